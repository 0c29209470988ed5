// The name a server proposes in Content-Disposition (RFC 6266, RFC 8187), reduced to one safe
// segment: a server may name a file, never a folder.

import { clearOfRecords, sanitizeSegment } from './segment.js';

/**
 * The file name a Content-Disposition header proposes, reduced to a safe base name, or null when
 * there is none worth using. `filename*` (RFC 6266/8187) wins over `filename`.
 */
export function sanitizeDispositionName(headerValue: string): string | null {
  const params = parseParams(headerValue);
  let name: string | null = null;
  const ext = params.get('filename*');
  if (ext !== undefined) name = decodeExtValue(ext);
  if (name === null) {
    const plain = params.get('filename');
    if (plain !== undefined) name = utf8FromLatin1(plain);
  }
  if (name === null) return null;
  // Only the base name: a server must not choose the folder (`../../etc/passwd`, `C:\x\evil.exe`).
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1).trim();
  if (name === '' || name === '.' || name === '..') return null;
  return clearOfRecords(sanitizeSegment(name));
}

/** `type; a=b; c="d"` -> {a: b, c: d}; names lower-cased, the first occurrence wins. */
function parseParams(h: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  const n = h.length;
  while (i < n) {
    while (i < n && (h[i] === ';' || h[i] === ' ' || h[i] === '\t')) i++;
    const eq = h.indexOf('=', i);
    const semi = h.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      // A parameter without a value (the disposition type itself): skip it.
      if (semi < 0) break;
      i = semi + 1;
      continue;
    }
    const name = h.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < n && (h[i] === ' ' || h[i] === '\t')) i++;
    let value = '';
    if (h[i] === '"') {
      i++;
      while (i < n && h[i] !== '"') {
        // Only \" and \\ are escapes: servers write Windows paths with bare backslashes in quotes,
        // and keeping those lets the base-name step cut at them.
        if (h[i] === '\\' && (h[i + 1] === '"' || h[i + 1] === '\\')) i++;
        value += h[i];
        i++;
      }
      i++; // closing quote (or the end, for an unterminated string)
      const next = h.indexOf(';', i);
      i = next < 0 ? n : next + 1;
    } else {
      const end = semi < 0 ? n : semi;
      value = h.slice(i, end).trim();
      i = end + 1;
    }
    if (name !== '' && !params.has(name)) params.set(name, value);
  }
  return params;
}

/** RFC 8187 ext-value: `charset'lang'pct-encoded`. */
function decodeExtValue(v: string): string | null {
  const m = /^([^']*)'[^']*'(.*)$/s.exec(v.trim());
  if (!m) return null;
  const charset = m[1]!.toLowerCase();
  const text = m[2]!;
  if (charset === 'utf-8') {
    try {
      return decodeURIComponent(text);
    } catch {
      return null; // invalid: fall back to plain filename
    }
  }
  if (charset === 'iso-8859-1') {
    return text.replace(/%([0-9a-fA-F]{2})/g, (_, hx: string) => String.fromCharCode(parseInt(hx, 16)));
  }
  return null;
}

/**
 * HTTP header values arrive as Latin-1, but many servers put raw UTF-8 bytes in `filename`:
 * when the Latin-1 text is in fact valid UTF-8, the UTF-8 reading is what the server meant.
 */
function utf8FromLatin1(s: string): string {
  if (!/[\u0080-\u00ff]/.test(s) || /[^\u0000-\u00ff]/.test(s)) return s;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}
