// The part of a response head the transfer reads, from undici's raw header list.

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * The response headers the transfer reads (verdict.ts), picked from undici's raw name/value
 * Buffers: the first of each, as latin1 text. undici's own object of every header (its
 * parseHeaders) would be two strings per header and a dictionary per response, all alive for the
 * whole exchange; on 100,000 small files those were ~0.7 KB of every file's allocation.
 */
const WANTED = ['content-length', 'content-range', 'content-disposition', 'etag', 'last-modified', 'location', 'retry-after'];
const WANTED_CODES = WANTED.map((name) => Array.from(name, (c) => c.charCodeAt(0)));

/** `name` equals `codes` (lowercase ASCII) ignoring case. */
function nameIs(name: Buffer, codes: number[]): boolean {
  if (name.length !== codes.length) return false;
  for (let i = 0; i < codes.length; i++) if ((name[i]! | 0x20) !== codes[i]) return false;
  return true;
}

export function pickHeaders(raw: Buffer[]): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    for (let w = 0; w < WANTED.length; w++) {
      if (!nameIs(name, WANTED_CODES[w]!)) continue;
      const key = WANTED[w]!;
      if (out[key] === undefined) out[key] = raw[i + 1]!.toString('latin1');
      break;
    }
  }
  return out;
}
