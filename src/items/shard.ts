// --shard K/N: split one list across N machines with no coordination. Every machine reads the
// whole list and keeps the items whose URL hashes to its own K, so the hash must be a fixed,
// documented function that gives the same answer everywhere (not Node's randomised hashing).

import { fmix32 } from '../hash.js';

export interface Shard {
  k: number;
  n: number;
}

/** Parses `K/N` (0 <= K < N, N >= 1; blanks around the numbers allowed), as given to --shard. */
export function parseShard(s: string): Shard | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  if (m === null) return undefined;
  const k = Number(m[1]);
  const n = Number(m[2]);
  return Number.isSafeInteger(k) && Number.isSafeInteger(n) && n >= 1 && k < n ? { k, n } : undefined;
}

/**
 * 32-bit FNV-1a over the UTF-8 bytes of `s`, as an unsigned integer:
 *
 *   h = 0x811c9dc5                       (2166136261, the offset basis)
 *   for each byte b: h = ((h XOR b) * 0x01000193) mod 2^32   (16777619, the FNV prime)
 *
 * e.g. fnv1a32("") = 0x811c9dc5, fnv1a32("a") = 0xe40c292c. Any language can reproduce it
 * (Python: `h = 0x811c9dc5; for b in s.encode(): h = ((h ^ b) * 0x01000193) & 0xffffffff`).
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  // URLs are nearly always ASCII, where a char code is the UTF-8 byte: no encoding needed.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnvBytes(Buffer.from(s, 'utf8'));
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

function fnvBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

// Murmur3's 32-bit finaliser (fmix32, in hash.ts) follows FNV-1a because FNV-1a's low bits are
// weak: bit i of the hash depends only on bits 0..i of the bytes, so `fnv1a32(url) % 4` skews
// shards badly (measured: 15% to 28% on URL lists that differ only in digits, 40%..135% of fair
// share at N=16). The finaliser spreads every bit.

/**
 * The shard (0..n-1) that owns `url`: fmix32(fnv1a32(url)) mod n, over the URL string exactly
 * as the caller passes it. Python equivalent, for splitting a list outside bulkget:
 *
 *   def shard(url, n):
 *       M = 0xffffffff; h = 0x811c9dc5
 *       for b in url.encode(): h = ((h ^ b) * 0x01000193) & M
 *       h ^= h >> 16; h = (h * 0x85ebca6b) & M; h ^= h >> 13; h = (h * 0xc2b2ae35) & M; h ^= h >> 16
 *       return h % n
 */
export function shardOf(url: string, n: number): number {
  return fmix32(fnv1a32(url)) % n;
}
