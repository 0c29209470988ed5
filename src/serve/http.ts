// The conditional and range requests the flag server answers (RFC 9110): ETags, Range, If-Range.

/** Entity tags in an If-None-Match / If-Range list; `*` comes back as itself. */
function parseEtagList(value: string): string[] {
  if (value.trim() === '*') return ['*'];
  return value.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

export function weakMatch(list: string, etag: string): boolean {
  return parseEtagList(list).some((t) => t === '*' || t.replace(/^W\//, '') === etag);
}

export type RangeResult = { start: number; end: number } | 'unsatisfiable' | null;

/**
 * One byte range, or null when the header is to be ignored (not bytes, malformed, or several
 * ranges: RFC 9110 lets a server answer those with the full representation).
 */
export function parseRange(value: string, len: number): RangeResult {
  const m = /^\s*bytes\s*=(.*)$/i.exec(value);
  if (!m) return null;
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length !== 1) return null;
  const r = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!r) return null;
  const [, a, b] = r as unknown as [string, string, string];
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || len === 0) return 'unsatisfiable';
    return { start: Math.max(0, len - n), end: len - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return null;
  if (start >= len) return 'unsatisfiable';
  return { start, end: b === '' ? len - 1 : Math.min(Number(b), len - 1) };
}

/** If-Range holds when its strong ETag or its exact date names the current representation. */
export function ifRangeMatches(value: string, flag: { etag: string; lastModifiedMs: number }): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === flag.etag; // weak tags never match here
  const t = Date.parse(v);
  return !Number.isNaN(t) && t === flag.lastModifiedMs;
}

// Control characters in a logged path could drive the operator's terminal.
