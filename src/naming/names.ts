// Safe names: every path bulkget writes is built from segments that are harmless on Linux,
// macOS and Windows alike, so a list made on one system can be replayed on another and no name
// taken from a URL, an input line or a server header can climb out of DEST.
// This file: the names an item gets (from its URL or its input line), collision suffixes, and
// the name of its partial file.

import { clearOfRecords, percentDecode, sanitizeSegment, utf8Length } from './segment.js';

/** The file name curl -O and wget would use: the URL's last path segment, decoded and made safe. */
export function nameFromUrl(url: URL): string {
  const p = url.pathname;
  const last = p.slice(p.lastIndexOf('/') + 1);
  const decoded = percentDecode(last);
  return decoded === '' ? 'index.html' : clearOfRecords(sanitizeSegment(decoded));
}

type OutPathCheck = { ok: true; path: string } | { ok: false; reason: string };

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
  host = clearOfRecords(sanitizeSegment(host));
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
    name = '#' + process.getBuiltinModule('node:crypto').createHash('sha256').update(rel).digest('hex').slice(0, 32) + '.part';
  }
  return name;
}
