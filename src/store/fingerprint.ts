// Compact memory of the names handed out in this run. The input may hold tens of millions of
// lines and SPEC allows at most 16 bytes per distinct item, so nothing here keeps a string:
// every fact is a 64-bit fingerprint in a typed-array hash table.

import { parseSuffix, withSuffix } from './naming.js';
import { collectGarbage } from './reclaim.js';
import { fmix32 } from '../input/shard.js';

// --- hashing ---------------------------------------------------------------------------------
// Two 32-bit lanes built differently (a murmur3-style round and a multiply-xorshift round), so a
// collision in one lane says nothing about the other and the pair behaves like a 64-bit hash.
// The result lands in module variables rather than a fresh array: the hot path allocates nothing.

let HA = 0;
let HB = 0;

function hBegin(): void {
  HA = 0x2f0e1d3c;
  HB = 0x6a09e667;
}

function hUnit(c: number): void {
  let k = Math.imul(c, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  HA ^= Math.imul(k, 0x1b873593);
  HA = (HA << 13) | (HA >>> 19);
  HA = (Math.imul(HA, 5) + 0xe6546b64) | 0;
  HB = Math.imul(HB ^ c, 0x2c1b3c6d);
  HB ^= HB >>> 13;
}

function hString(s: string): void {
  for (let i = 0; i < s.length; i++) hUnit(s.charCodeAt(i));
}

function hEnd(len: number): void {
  // (A, B) -> (A', B') is a bijection, so mixing B with A' keeps the lanes' joint collision rate.
  HA = fmix32(HA ^ len);
  HB = fmix32(HB ^ Math.imul(len, 0x9e3779b1) ^ HA);
}

/** Two independent 32-bit hashes of s (unsigned). */
export function hash64(s: string): [number, number] {
  hBegin();
  hString(s);
  hEnd(s.length);
  return [HA, HB];
}

// Domain tags are fed as one extra unit above 0xFFFF, which no UTF-16 unit can equal: a path, its
// counter and its (path, url) pair can never hash the same input, so they share one table.
const TAG_PATH = 0x10001;
const TAG_URL = 0x10002;
const TAG_COUNTER = 0x10003;
const TAG_PAIR = 0x10004;

function hashTagged(s: string, tag: number, s2?: string): void {
  hBegin();
  hString(s);
  hUnit(tag);
  if (s2 !== undefined) hString(s2);
  hEnd(s.length + (s2 === undefined ? 0 : s2.length + 1));
}

// The 40-bit key of the last hashTagged call: 32 bits of lane A plus 8 bits of lane B.
let K0 = 0;
let K8 = 0;
function takeKey(): void {
  K0 = HA;
  K8 = HB & 0xff;
  // (0, 0) marks an empty slot; forcing a bit on the key alone (not key+value) keeps lookups and
  // inserts of that rare key in agreement.
  if (K0 === 0 && K8 === 0) K8 = 1;
}

function urlFingerprint(url: string): number {
  hashTagged(url, TAG_URL);
  return HA >>> 8; // 24 bits
}

// --- the table -------------------------------------------------------------------------------

const INITIAL_CAPACITY = 1024;
const MAX_LOAD = 0.9;
const GROWTH = 1.25;
const VALUE_MASK = 0xffffff;

/**
 * Open addressing with linear probing on Uint32Arrays, two words per slot: word 0 = 32 key
 * bits, word 1 = 8 more key bits (top) and a 24-bit value. Growing by 1.25x at load 0.9 keeps the
 * load between 0.72 and 0.9, i.e. 8.9 to 11.1 bytes per entry (1.5x at 0.8: 12.2 at a million).
 * Probing at 0.9 costs ~0.2 us more per name than at 0.8 (measured), against ~1 us for hashing
 * the name and ~5 us for the rest of an item.
 *
 * The table is split into SEGMENTS independent parts chosen by the key's top bits, each growing
 * on its own (in place, see SEGMENT_RESERVE). One big array would need its entries parked
 * somewhere while it grows: twice its size for a moment, which at a million items is a 10 MiB
 * spike in RSS. With 64 parts the spike is 1/64 of that.
 *
 * `claim` is the plain use: the key is a path (40-bit fingerprint) and the value a 24-bit
 * fingerprint of the URL that claimed it.
 */
const SEGMENT_BITS = 6;
const SEGMENTS = 1 << SEGMENT_BITS;

// Each segment lives in a resizable ArrayBuffer: growing commits more pages of one reservation
// instead of allocating a new array and dropping the old, so no dead arrays wait for a GC (at a
// million names they had added up to a fifth of the table to the peak) and no collections are
// forced for them. The reservation is address space only (PROT_NONE until used). Where it cannot
// be had (an address-space limit, an engine without resizable buffers), plain arrays are used.
const SEGMENT_RESERVE = 64 << 20; // bytes per segment: 8M slots, half a billion names in all

function reserve(bytes: number): ArrayBuffer | undefined {
  try {
    const b = new ArrayBuffer(bytes, { maxByteLength: SEGMENT_RESERVE });
    return b.resizable ? b : undefined;
  } catch {
    return undefined;
  }
}

export class NameTable {
  private readonly segs: Uint32Array[] = [];
  private readonly bufs: Array<ArrayBuffer | undefined> = [];
  private readonly caps: number[] = [];
  private readonly counts: number[] = [];
  private count = 0;
  private dropped = 0; // bytes of arrays dropped by growth since the last collection
  // Where a segment's entries wait while it is rehashed in place; shared, so one segment's size.
  private scratch = new Uint32Array(0);

  /** `inPlace: false` forces plain arrays (the fallback), for tests. */
  constructor(initialCapacity = INITIAL_CAPACITY, inPlace = true) {
    const per = Math.max(8, Math.ceil(initialCapacity / SEGMENTS));
    for (let i = 0; i < SEGMENTS; i++) {
      const buf = inPlace ? reserve(per * 8) : undefined;
      this.bufs.push(buf);
      this.segs.push(buf ? new Uint32Array(buf, 0, per * 2) : new Uint32Array(per * 2));
      this.caps.push(per);
      this.counts.push(0);
    }
  }

  get size(): number {
    return this.count;
  }

  bytesUsed(): number {
    let n = 0;
    for (const s of this.segs) n += s.byteLength;
    return n;
  }

  /** 'new' = now ours; 'duplicate' = this URL claimed it before; 'taken' = another URL did. */
  claim(path: string, url: string): 'new' | 'duplicate' | 'taken' {
    const u = urlFingerprint(url);
    hashTagged(path, TAG_PATH);
    takeKey();
    const v = this.lookupKey(K0, K8);
    if (v >= 0) return v === u ? 'duplicate' : 'taken';
    this.storeKey(K0, K8, u);
    return 'new';
  }

  /** @internal The value stored under a 40-bit key, or -1. */
  lookupKey(k0: number, k8: number): number {
    const g = k0 >>> (32 - SEGMENT_BITS);
    const i = this.find(g, k0, k8);
    return i >= 0 ? this.segs[g]![i * 2 + 1]! & VALUE_MASK : -1;
  }

  /** @internal Inserts or overwrites. */
  storeKey(k0: number, k8: number, value: number): void {
    const g = k0 >>> (32 - SEGMENT_BITS);
    let i = this.find(g, k0, k8);
    if (i < 0) {
      if (this.counts[g]! + 1 > this.caps[g]! * MAX_LOAD) {
        this.grow(g);
        i = this.find(g, k0, k8);
      }
      i = -i - 1;
      this.segs[g]![i * 2] = k0;
      this.counts[g]!++;
      this.count++;
    }
    this.segs[g]![i * 2 + 1] = ((k8 << 24) | (value & VALUE_MASK)) >>> 0;
  }

  /** Slot index of the key in segment g, or -(insertion slot + 1). */
  private find(g: number, k0: number, k8: number): number {
    const s = this.segs[g]!;
    const cap = this.caps[g]!;
    let i = k0 % cap;
    for (;;) {
      const w0 = s[i * 2]!;
      const w1 = s[i * 2 + 1]!;
      if (w0 === 0 && w1 === 0) return -i - 1;
      if (w0 === k0 && w1 >>> 24 === k8) return i;
      if (++i === cap) i = 0;
    }
  }

  private grow(g: number): void {
    const old = this.segs[g]!;
    const oldCap = this.caps[g]!;
    const cap = Math.ceil(oldCap * GROWTH);
    const buf = this.bufs[g];
    let from = old;
    let s: Uint32Array;
    if (buf && cap * 8 <= SEGMENT_RESERVE) {
      // In place: park the entries, widen the buffer, clear it, put them back.
      if (this.scratch.length < oldCap * 2) this.scratch = new Uint32Array(Math.ceil(oldCap * GROWTH) * 2);
      from = this.scratch;
      from.set(old);
      buf.resize(cap * 8);
      s = new Uint32Array(buf, 0, cap * 2);
      s.fill(0, 0, oldCap * 2);
    } else {
      s = new Uint32Array(cap * 2);
      this.bufs[g] = undefined;
      this.dropped += old.byteLength;
    }
    for (let j = 0; j < oldCap; j++) {
      const w0 = from[j * 2]!;
      const w1 = from[j * 2 + 1]!;
      if (w0 === 0 && w1 === 0) continue;
      // The slot index comes from stored bits only, so entries can move without their strings.
      let i = w0 % cap;
      while (s[i * 2] !== 0 || s[i * 2 + 1] !== 0) if (++i === cap) i = 0;
      s[i * 2] = w0;
      s[i * 2 + 1] = w1;
    }
    this.segs[g] = s;
    this.caps[g] = cap;
    // After an eighth of the table's size has been dropped (and at least 1 MiB): the dead arrays
    // never add more than that to the peak, for ~20 full collections over a million names.
    if (this.dropped > 1 << 20 && this.dropped * 8 > this.bytesUsed()) {
      this.dropped = 0;
      collectGarbage();
    }
  }
}

// --- collision names -------------------------------------------------------------------------

/** Counters are 24-bit values; past this a base's suffixes are recorded one by one. */
const SATURATED = VALUE_MASK;

/**
 * Decides every output path in input order: the first URL keeps a name, later URLs get `-1`,
 * `-2`, ... and a URL seen again for the same requested path is dropped.
 *
 * Three kinds of fact share the table, told apart by a domain tag in the hash:
 * - path P  -> URL fingerprint: P was requested and given as is;
 * - counter of base B -> next suffix N: every `withSuffix(B, k)` with k < N is taken, either given
 *   to a URL that asked for B or held literally by someone else (skipped over);
 * - pair (B, URL) -> 24 more hash bits: this URL asked for B and got a suffixed name.
 *
 * The counter is the "where to start" hint made exact and kept in the table instead of a
 * separate map: a thousand URLs named index.html cost one probe each, not a walk over
 * index-1..index-999 (which would be O(n^2)). It keeps results deterministic because it only
 * ever moves past suffixes that are claimed, and claims are never undone: the first free suffix
 * at or above it is the first free suffix at all. Because suffixed names are implied by the
 * counter rather than stored, the pair fact is what remembers, at one slot per suffixed item,
 * that a URL already got a name for B -- so a repeated URL is caught however many other URLs
 * share its name, and every item still costs about one slot.
 */
export class NameAllocator {
  private readonly table: NameTable;
  /** Next suffix for the (few) bases that went past 2^24 - 1 suffixes. */
  private readonly overflow = new Map<string, number>();

  constructor(table?: NameTable) {
    this.table = table ?? new NameTable();
  }

  /** The path to use for this URL, or null when this URL already has a name for `path`. */
  assign(path: string, url: string): string | null {
    const t = this.table;
    const u = urlFingerprint(url);
    hashTagged(path, TAG_PATH);
    takeKey();
    const p0 = K0;
    const p8 = K8;
    const held = t.lookupKey(p0, p8);
    if (held === u) return null;
    if (held < 0 && !this.impliedTaken(path)) {
      t.storeKey(p0, p8, u);
      return path;
    }

    // Taken: did this URL already get a suffixed name for this path?
    hashTagged(path, TAG_PAIR, url);
    takeKey();
    const q0 = K0;
    const q8 = K8;
    const qv = HB >>> 8;
    if (t.lookupKey(q0, q8) === qv) return null;

    let k = this.nextSuffix(path);
    let cand: string;
    for (;;) {
      cand = withSuffix(path, k);
      hashTagged(cand, TAG_PATH);
      takeKey();
      const v = t.lookupKey(K0, K8);
      if (v < 0) break; // not held literally, and k >= counter so not implied either
      if (v === u) return null; // this URL already holds that very name
      k++;
    }
    if (k >= SATURATED) {
      // Past the counter's range the name must be stored itself to count as taken.
      hashTagged(cand, TAG_PATH);
      takeKey();
      t.storeKey(K0, K8, u);
    }
    this.setNextSuffix(path, k + 1);
    t.storeKey(q0, q8, qv);
    return cand;
  }

  /** Whether p is a suffixed name already handed out through its base's counter. */
  private impliedTaken(p: string): boolean {
    const parsed = parseSuffix(p);
    if (parsed === null) return false;
    hashTagged(parsed.path, TAG_COUNTER);
    takeKey();
    const next = this.table.lookupKey(K0, K8);
    return next > 0 && parsed.n < next;
  }

  private nextSuffix(base: string): number {
    hashTagged(base, TAG_COUNTER);
    takeKey();
    const next = this.table.lookupKey(K0, K8);
    if (next < 0) return 1;
    if (next >= SATURATED) return this.overflow.get(base) ?? SATURATED;
    return next;
  }

  private setNextSuffix(base: string, next: number): void {
    hashTagged(base, TAG_COUNTER);
    takeKey();
    if (next >= SATURATED) {
      this.table.storeKey(K0, K8, SATURATED);
      this.overflow.set(base, next);
    } else {
      this.table.storeKey(K0, K8, next);
    }
  }
}
