// Understanding one input line: an entry (URL, output path, checksum, size) or why it is not one.
// Pure: no I/O, no state, so it is table-tested and can run on every one of ten million lines.

import type { ItemSpec, ParsedEntry, ParsedLine } from '../types.js';

const SHA256_RE = /^[0-9a-fA-F]{64}$/;

/**
 * The URL `s` names, or why it is not an acceptable download URL (a one-line reason).
 * Shared by every source, so positional arguments and list lines obey the same rule.
 */
export function checkUrl(s: string): URL | string {
  // Fast path for the usual line: a literal "http://" or "https://" prefix settles the scheme,
  // so only validity is left.
  const after = httpPrefixLength(s);
  if (after > 0) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return 'not an absolute http(s) URL';
    }
    // WHATWG skips extra slashes ("http:///a" becomes host "a"); curl calls that a URL with
    // no host, and so do we. Any other parse of a special scheme has a non-empty host.
    const next = s.charCodeAt(after);
    if (next === 0x2f || next === 0x5c) return 'URL has no host';
    return u;
  }
  // Everything else (other schemes, relative strings, odd spellings) takes the full parser,
  // which also tells us the scheme to name in the reason.
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'not an absolute http(s) URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return `unsupported scheme "${u.protocol}" (only http and https)`;
  }
  // Here the scheme is http(s) but not spelt "http://" at the start: "http:example.com",
  // "http:\\host" or a leading blank, all of which WHATWG repairs. In a list that
  // is a mistake more likely than a URL, so it is refused rather than guessed at.
  return 'not an absolute http(s) URL';
}

/** Length of a leading "http://" or "https://" (any case), or 0. */
function httpPrefixLength(s: string): number {
  if (s.length < 7) return 0;
  if ((s.charCodeAt(0) | 0x20) !== 0x68 /* h */) return 0;
  if ((s.charCodeAt(1) | 0x20) !== 0x74 /* t */) return 0;
  if ((s.charCodeAt(2) | 0x20) !== 0x74 /* t */) return 0;
  if ((s.charCodeAt(3) | 0x20) !== 0x70 /* p */) return 0;
  let i = 4;
  if ((s.charCodeAt(i) | 0x20) === 0x73 /* s */) i++;
  if (s.charCodeAt(i) !== 0x3a || s.charCodeAt(i + 1) !== 0x2f || s.charCodeAt(i + 2) !== 0x2f) return 0;
  return i + 3;
}

function isSpace(code: number): boolean {
  // The separators a hand-written list uses between URL and path; a URL never contains them raw.
  return code === 0x20 || code === 0x09 || code === 0x0b || code === 0x0c || code === 0xa0 || code === 0x3000;
}

export function parseLine(text: string): ParsedLine {
  if (text.charCodeAt(text.length - 1) === 0x0d) text = text.slice(0, -1);
  const t = text.trim();
  if (t === '' || t.charCodeAt(0) === 0x23 /* # */) return { kind: 'skip' };
  if (t.charCodeAt(0) === 0x7b /* { */) return parseJson(t);

  let end = 0;
  while (end < t.length && !isSpace(t.charCodeAt(end))) end++;
  const url = checkUrl(t.slice(0, end));
  if (typeof url === 'string') return { kind: 'invalid', reason: url };
  if (end === t.length) return { kind: 'entry', url };
  // The path is everything after the first run of blanks, so names with spaces survive intact.
  return { kind: 'entry', url, out: t.slice(end).trim() };
}

function parseJson(t: string): ParsedLine {
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (e) {
    // V8's message names the position, which is what someone fixing the list needs; cap it so
    // a huge line cannot bloat the report.
    const msg = e instanceof Error ? e.message : String(e);
    return { kind: 'invalid', reason: `bad JSON: ${msg.length > 80 ? msg.slice(0, 77) + '...' : msg}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return { kind: 'invalid', reason: 'JSON line is not an object' };
  }
  // Unknown keys are ignored on purpose: --save-failed writes the input format plus "error",
  // and `bulkget -i FILE` must accept those lines back.
  const o = v as Record<string, unknown>;
  if (o.url === undefined) return { kind: 'invalid', reason: 'JSON line has no "url"' };
  return parseSpec(o);
}

/**
 * An item given as an object (a JSON line, or a library caller's `{url, out, sha256, size}`),
 * checked the same way as a line.
 */
export function parseSpec(o: Record<string, unknown> | ItemSpec): ParsedLine {
  if (typeof o.url !== 'string') return { kind: 'invalid', reason: '"url" must be a string' };
  const url = checkUrl(o.url.trim());
  if (typeof url === 'string') return { kind: 'invalid', reason: url };
  const entry: ParsedEntry = { kind: 'entry', url };

  // null is read as "absent": JSON writers commonly emit null for an optional field.
  if (o.out !== undefined && o.out !== null) {
    if (typeof o.out !== 'string') return { kind: 'invalid', reason: '"out" must be a string' };
    entry.out = o.out;
  }
  if (o.sha256 !== undefined && o.sha256 !== null) {
    if (typeof o.sha256 !== 'string' || !SHA256_RE.test(o.sha256)) {
      return { kind: 'invalid', reason: '"sha256" must be 64 hex digits' };
    }
    entry.sha256 = o.sha256.toLowerCase();
  }
  if (o.size !== undefined && o.size !== null) {
    if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
      return { kind: 'invalid', reason: '"size" must be a non-negative integer' };
    }
    entry.size = o.size + 0; // turns a JSON -0 into 0
  }
  return entry;
}
