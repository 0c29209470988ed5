// Safe names: every path bulkget writes is built from segments that are harmless on Linux,
// macOS and Windows alike, so a list made on one system can be replayed on another and no name
// taken from a URL, an input line or a server header can climb out of DEST.

import { createHash } from 'node:crypto';

/** Bytes a segment may take: well under the 255-byte limit of ext4/APFS/NTFS, leaving room for
 *  a collision suffix (`-123`) and the `.part` of the temporary file. */
const MAX_SEGMENT_BYTES = 200;
/** An extension longer than this is more likely part of the name than a real extension. */
const MAX_EXT_BYTES = 16;

// Separators, NUL, C0/DEL and C1 controls (C1 too: U+009B is a one-character CSI that would let a
// name drive the terminal when it is printed), and the characters Windows forbids in names.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f/\\<>:"|?*]/g;
// A lone surrogate cannot be encoded as UTF-8; the file system would get U+FFFD or refuse.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Windows resolves these to devices whatever the extension (`con.txt` is the console).
// COM0/LPT0 and the superscript digits are reserved too on current Windows.
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\s*\..*)?$/i;
// Windows silently drops trailing dots and spaces, so `a.` and `a` would be the same file there.
const TRAILING_DOTS_SPACES = /[. ]+$/;

/** One path segment made safe on Linux, macOS and Windows. Never returns '', '.' or '..'. */
export function sanitizeSegment(s: string): string {
  let r = s.replace(LONE_SURROGATE, '_').replace(UNSAFE_CHARS, '_').replace(TRAILING_DOTS_SPACES, '');
  // '.', '..' and '...' all end up empty here, so they cannot name a parent or the folder itself.
  if (r === '') return '_';
  if (utf8Length(r) > MAX_SEGMENT_BYTES) r = capSegment(r);
  if (DEVICE_NAME.test(r)) r = '_' + r;
  return r;
}

function capSegment(r: string): string {
  const dot = r.lastIndexOf('.');
  const ext = dot > 0 ? r.slice(dot) : '';
  const extBytes = utf8Length(ext);
  let out: string;
  if (ext.length > 1 && extBytes <= MAX_EXT_BYTES) {
    // Keep the extension: the file still opens with the right program after the cut.
    out = cutUtf8(r.slice(0, dot), MAX_SEGMENT_BYTES - extBytes).replace(TRAILING_DOTS_SPACES, '') + ext;
  } else {
    out = cutUtf8(r, MAX_SEGMENT_BYTES).replace(TRAILING_DOTS_SPACES, '');
  }
  return out === '' ? '_' : out;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a pair (lone surrogates were replaced before we get here)
      i++;
    } else n += 3;
  }
  return n;
}

/** The longest prefix of s that fits in max UTF-8 bytes, never splitting a code point. */
function cutUtf8(s: string, max: number): string {
  let n = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n + len > max) break;
    n += len;
    end += ch.length;
  }
  return s.slice(0, end);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes as UTF-8, leniently: an escape that is malformed (`%ZZ`) or that encodes a byte
 * which is not part of a valid UTF-8 sequence (`%FF`) stays as written. Names come from arbitrary
 * URLs, and decodeURIComponent would throw on the first bad one.
 */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const pct = s.indexOf('%', i);
    if (pct < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, pct);
    // Collect the whole run of well-formed escapes: a code point may span several of them.
    const bytes: number[] = [];
    let j = pct;
    while (j + 2 < s.length && s.charCodeAt(j) === 0x25) {
      const hi = hexValue(s.charCodeAt(j + 1));
      const lo = hexValue(s.charCodeAt(j + 2));
      if (hi < 0 || lo < 0) break;
      bytes.push(hi * 16 + lo);
      j += 3;
    }
    if (bytes.length === 0) {
      out += '%';
      i = pct + 1;
      continue;
    }
    out += decodeUtf8Lenient(bytes, s, pct);
    i = j;
  }
  return out;
}

/** Decodes bytes taken from escapes starting at s[start]; invalid bytes keep their escape text. */
function decodeUtf8Lenient(bytes: number[], s: string, start: number): string {
  let out = '';
  let k = 0;
  while (k < bytes.length) {
    const b = bytes[k]!;
    let need = 0;
    let cp = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      k++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      // Rule out overlong forms and UTF-16 surrogates, as the UTF-8 standard does.
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    }
    let ok = need > 0;
    if (ok) {
      for (let m = 1; m <= need; m++) {
        const c = bytes[k + m];
        if (c === undefined || c < (m === 1 ? lo : 0x80) || c > (m === 1 ? hi : 0xbf)) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (c & 0x3f);
      }
    }
    if (ok) {
      out += String.fromCodePoint(cp);
      k += need + 1;
    } else {
      out += s.slice(start + 3 * k, start + 3 * k + 3);
      k++;
    }
  }
  return out;
}

/** The file name curl -O and wget would use: the URL's last path segment, decoded and made safe. */
export function nameFromUrl(url: URL): string {
  const p = url.pathname;
  const last = p.slice(p.lastIndexOf('/') + 1);
  const decoded = percentDecode(last);
  return decoded === '' ? 'index.html' : sanitizeSegment(decoded);
}

export type OutPathCheck = { ok: true; path: string } | { ok: false; reason: string };

/** Checks an output path given in the input and returns it sanitised and '/'-separated. */
export function checkOutPath(out: string): OutPathCheck {
  // `\x` and `C:x` count too: on Windows they are rooted (at the current drive, or at drive C's
  // current folder), so they would leave DEST there even though Linux reads them as names.
  if (/^[\\/]/.test(out) || /^[A-Za-z]:/.test(out)) return { ok: false, reason: 'output path must be relative' };
  const raw = out.split(/[\\/]/);
  if (raw.includes('..')) return { ok: false, reason: 'output path must not contain ".."' };
  const segs: string[] = [];
  for (const s of raw) if (s !== '' && s !== '.') segs.push(sanitizeSegment(s));
  if (segs.length === 0) return { ok: false, reason: 'output path is empty' };
  const last = raw[raw.length - 1];
  if (last === '' || last === '.') return { ok: false, reason: 'output path names a directory' };
  // DEST/.bulkget holds the lock and the state log: an input line must not be able to replace them.
  // Case-insensitive because macOS and Windows file systems are.
  if (segs[0]!.toLowerCase() === '.bulkget') return { ok: false, reason: 'output path must not be inside .bulkget' };
  return { ok: true, path: segs.join('/') };
}

/** `host[_port]/decoded/path` for `--layout tree`, like `wget -x`. */
export function treePath(url: URL): string {
  let host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  host = host.replace(/:/g, '_');
  // The URL parser leaves port empty when it is the scheme's default.
  if (url.port !== '') host += '_' + url.port;
  host = sanitizeSegment(host);
  if (host.toLowerCase() === '.bulkget') host = '_' + host;
  const parts = url.pathname.split('/');
  const segs = [host];
  // parts[0] is the empty string before the leading '/'. Empty middle segments (`a//b`) are
  // dropped, as the file system itself would read `a//b` as `a/b`.
  for (let i = 1; i < parts.length - 1; i++) {
    if (parts[i] !== '') segs.push(sanitizeSegment(percentDecode(parts[i]!)));
  }
  const last = parts.length > 1 ? parts[parts.length - 1]! : '';
  const decoded = percentDecode(last);
  segs.push(decoded === '' ? 'index.html' : sanitizeSegment(decoded));
  return segs.join('/');
}

/** `dir/name.ext` -> `dir/name-N.ext`; a leading dot is not an extension (`.bashrc-1`). */
export function withSuffix(path: string, n: number): string {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const seg = path.slice(slash + 1);
  const dot = seg.lastIndexOf('.');
  return dot > 0 ? `${dir}${seg.slice(0, dot)}-${n}${seg.slice(dot)}` : `${dir}${seg}-${n}`;
}

/**
 * The inverse of withSuffix: the (path, n) that withSuffix would turn into `p`, or null when `p`
 * is not of that shape. The decomposition is unique (the suffix is the last `-N` before the
 * extension, N without leading zeros), which lets the allocator know which base a suffixed name
 * belongs to without remembering the name itself.
 */
export function parseSuffix(p: string): { path: string; n: number } | null {
  const slash = p.lastIndexOf('/');
  const dir = p.slice(0, slash + 1);
  const seg = p.slice(slash + 1);
  const dot = seg.lastIndexOf('.');
  const stem = dot > 0 ? seg.slice(0, dot) : seg;
  const ext = dot > 0 ? seg.slice(dot) : '';
  const m = /^(.*)-([1-9][0-9]{0,14})$/s.exec(stem);
  if (!m || m[1] === '') return null;
  return { path: dir + m[1] + ext, n: Number(m[2]) };
}

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
  return sanitizeSegment(name);
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

/** Bytes a partial file's name may take before it is replaced by a digest (ext4: 255). */
const MAX_PARTIAL_BYTES = 240;

/**
 * The name of `rel`'s partial file inside DEST/.bulkget/partial. One flat folder, and a one-to-one
 * map: `%` and `/` are escaped (`%25`, `%2F`), a leading `#` too, and `.part` is added; a name
 * too long for that is `#` and 32 hex digits of its SHA-256 instead, which no escaped name can
 * start with. So the partials of `x` and `x.part` (or of `a/b` and `a%2Fb`) never meet, and no
 * item's own name is ever used for a partial file.
 */
export function partialName(rel: string): string {
  let name = rel;
  if (name.includes('%')) name = name.replace(/%/g, '%25');
  if (name.includes('/')) name = name.replace(/\//g, '%2F');
  if (name.charCodeAt(0) === 0x23 /* # */) name = '%23' + name.slice(1);
  name += '.part';
  if (name.length * 3 > MAX_PARTIAL_BYTES && utf8Length(name) > MAX_PARTIAL_BYTES) {
    name = '#' + createHash('sha256').update(rel).digest('hex').slice(0, 32) + '.part';
  }
  return name;
}
