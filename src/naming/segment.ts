// Safe names: every path bulkget writes is built from segments that are harmless on Linux,
// macOS and Windows alike, so a list made on one system can be replayed on another and no name
// taken from a URL, an input line or a server header can climb out of DEST.
// This file: one path segment made safe, and percent-decoding.

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

/**
 * A name taken from a URL or a server that would be DEST/.bulkget, bulkget's own records
 * (case-insensitive, as macOS and Windows are), gets a `_` in front, as device names do: the file
 * still comes, under a name that cannot touch the lock or the state log.
 */
export function clearOfRecords(seg: string): string {
  return seg.length === 8 && seg.toLowerCase() === '.bulkget' ? '_' + seg : seg;
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

export function utf8Length(s: string): number {
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
