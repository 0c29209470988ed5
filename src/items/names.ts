// Compact memory of the names handed out in this run. The input may hold tens of millions of
// lines and SPEC allows at most 32 bytes per distinct item, so nothing here keeps a string:
// every fact is a fingerprint in a typed-array hash table. Keys are 96 bits and URL fingerprints
// 64: at ten million items the odds that two distinct names share a key are about 6e-16, and
// that a distinct URL is taken for a duplicate (its path matched, its fingerprint too) below 1e-12.

import { Hash128 } from '../hash.js';
import { parseSuffix, withSuffix } from '../naming/names.js';

// Each kind of fact hashes with its own seed, so a path, its counter and a (path, url) pair never
// share a key even for equal strings. A pair is the path, a NUL and the URL: a sanitised path
// holds no NUL, so the split is unambiguous.
const SEED_PATH = 0x5eed0001;
const SEED_URL = 0x5eed0002;
const SEED_COUNTER = 0x5eed0003;
const SEED_PAIR = 0x5eed0004;

/** Hashes one fact into a 96-bit key (k0, k1, k2); h1, h2 of the same hash serve as a value. */
class Facts {
  private readonly h = new Hash128();
  k0 = 0;
  k1 = 0;
  k2 = 0;

  of(seed: number, s: string, s2?: string): this {
    const h = this.h.begin(seed).feed(s);
    if (s2 !== undefined) h.unit(0).feed(s2);
    h.end();
    this.k0 = h.h1;
    this.k1 = h.h2;
    this.k2 = h.h3;
    // An all-zero key marks an empty slot: a real one gets a bit forced on.
    if ((this.k0 | this.k1 | this.k2) === 0) this.k2 = 1;
    return this;
  }
}

// --- the table -------------------------------------------------------------------------------

const INITIAL_CAPACITY = 1024;
const MAX_LOAD = 0.9;
const GROWTH = 1.15;
const WORDS = 5; // per slot: 96-bit key, 64-bit value

/**
 * Open addressing with linear probing on Uint32Arrays, five words (20 bytes) per slot: three key
 * words and two value words. Each segment grows by 1.15x at load 0.9, so its load stays between
 * 0.78 and 0.9; and the segments start at staggered sizes, so they grow at different times and
 * the table as a whole sits near the mean, about 24 bytes per entry, instead of all of them
 * dropping to the bottom of the range at once (with 1.25x in lockstep a million names measured
 * 27 bytes per entry, 31 bytes per item of RSS in all, against SPEC's 32). Higher loads were
 * tried: at 0.95, with Robin Hood probing, inserts walked so far that a name cost 6 us.
 * An all-zero key marks an empty slot; a real key that happens to be zero gets one bit forced
 * on, for lookups and inserts alike.
 *
 * The table is split into SEGMENTS independent parts chosen by the key's top bits, each growing
 * on its own, in place (see SEGMENT_RESERVE): one big array would need its entries parked
 * somewhere while it grows, twice its size for a moment. With 64 parts the spike is 1/64 of that.
 */
const SEGMENT_BITS = 6;
const SEGMENTS = 1 << SEGMENT_BITS;

// Each segment lives in a resizable ArrayBuffer: growing commits more pages of one reservation
// instead of allocating a new array and dropping the old, so no dead arrays wait for a GC. The
// reservation is address space only (PROT_NONE until used). Where it cannot be had (an
// address-space limit, an engine without resizable buffers), plain arrays are used.
const SEGMENT_RESERVE = 80 << 20; // bytes per segment: 4M slots, 230 million names in all

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
  // Where a segment's entries wait while it is rehashed in place; shared, so one segment's size.
  private scratch = new Uint32Array(0);
  private readonly facts = new Facts();
  /** Value of the last successful lookup (two words). */
  v0 = 0;
  v1 = 0;

  /** `inPlace: false` forces plain arrays (the fallback), for tests. */
  constructor(initialCapacity = INITIAL_CAPACITY, inPlace = true) {
    const base = Math.max(8, Math.ceil(initialCapacity / SEGMENTS));
    for (let i = 0; i < SEGMENTS; i++) {
      // Staggered over one growth step: segment i is GROWTH^(i/SEGMENTS) times the base.
      const per = Math.ceil(base * GROWTH ** (i / SEGMENTS));
      const buf = inPlace ? reserve(per * WORDS * 4) : undefined;
      this.bufs.push(buf);
      this.segs.push(buf ? new Uint32Array(buf, 0, per * WORDS) : new Uint32Array(per * WORDS));
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
    const f = this.facts.of(SEED_URL, url);
    const u0 = f.k0;
    const u1 = f.k1;
    f.of(SEED_PATH, path);
    if (this.lookup(f.k0, f.k1, f.k2)) return this.v0 === u0 && this.v1 === u1 ? 'duplicate' : 'taken';
    this.store(f.k0, f.k1, f.k2, u0, u1);
    return 'new';
  }

  /** @internal Whether the key is present; its value is then in v0, v1. */
  lookup(k0: number, k1: number, k2: number): boolean {
    const g = k0 >>> (32 - SEGMENT_BITS);
    const i = this.find(g, k0, k1, k2);
    if (i < 0) return false;
    const s = this.segs[g]!;
    this.v0 = s[i * WORDS + 3]!;
    this.v1 = s[i * WORDS + 4]!;
    return true;
  }

  /** @internal Inserts or overwrites. */
  store(k0: number, k1: number, k2: number, v0: number, v1: number): void {
    const g = k0 >>> (32 - SEGMENT_BITS);
    let i = this.find(g, k0, k1, k2);
    if (i < 0) {
      if (this.counts[g]! + 1 > this.caps[g]! * MAX_LOAD) {
        this.grow(g);
        i = this.find(g, k0, k1, k2);
      }
      i = -i - 1;
      const s = this.segs[g]!;
      s[i * WORDS] = k0;
      s[i * WORDS + 1] = k1;
      s[i * WORDS + 2] = k2;
      this.counts[g]!++;
      this.count++;
    }
    const s = this.segs[g]!;
    s[i * WORDS + 3] = v0;
    s[i * WORDS + 4] = v1;
  }

  /** Slot index of the key in segment g, or -(insertion slot + 1). */
  private find(g: number, k0: number, k1: number, k2: number): number {
    const s = this.segs[g]!;
    const cap = this.caps[g]!;
    let i = k1 % cap;
    for (;;) {
      const o = i * WORDS;
      const w0 = s[o]!;
      const w1 = s[o + 1]!;
      const w2 = s[o + 2]!;
      if (w0 === k0 && w1 === k1 && w2 === k2) return i;
      if ((w0 | w1 | w2) === 0) return -i - 1;
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
    if (buf && cap * WORDS * 4 <= SEGMENT_RESERVE) {
      // In place: park the entries, widen the buffer, clear it, put them back.
      if (this.scratch.length < oldCap * WORDS) this.scratch = new Uint32Array(Math.ceil(oldCap * 1.5) * WORDS);
      from = this.scratch;
      from.set(old);
      buf.resize(cap * WORDS * 4);
      s = new Uint32Array(buf, 0, cap * WORDS);
      s.fill(0, 0, oldCap * WORDS);
    } else {
      s = new Uint32Array(cap * WORDS);
      this.bufs[g] = undefined;
    }
    for (let j = 0; j < oldCap; j++) {
      const o = j * WORDS;
      const w0 = from[o]!;
      const w1 = from[o + 1]!;
      const w2 = from[o + 2]!;
      if ((w0 | w1 | w2) === 0) continue;
      // The slot index comes from stored bits only, so entries can move without their strings.
      let i = w1 % cap;
      while ((s[i * WORDS]! | s[i * WORDS + 1]! | s[i * WORDS + 2]!) !== 0) if (++i === cap) i = 0;
      const d = i * WORDS;
      s[d] = w0;
      s[d + 1] = w1;
      s[d + 2] = w2;
      s[d + 3] = from[o + 3]!;
      s[d + 4] = from[o + 4]!;
    }
    this.segs[g] = s;
    this.caps[g] = cap;
  }
}

// --- collision names -------------------------------------------------------------------------

/**
 * Decides every output path in input order: the first URL keeps a name, later URLs get `-1`,
 * `-2`, ... and a URL seen again for the same requested path is dropped.
 *
 * Three kinds of fact share the table, told apart by the seed of their hash:
 * - path P  -> URL fingerprint: P was requested and given as is;
 * - counter of base B -> next suffix N: every `withSuffix(B, k)` with k < N is taken, either given
 *   to a URL that asked for B or held literally by someone else (skipped over);
 * - pair (B, URL): this URL asked for B and got a suffixed name.
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
  private readonly facts = new Facts();

  constructor(table?: NameTable) {
    this.table = table ?? new NameTable();
  }

  /** The path to use for this URL, or null when this URL already has a name for `path`. */
  assign(path: string, url: string): string | null {
    const t = this.table;
    const f = this.facts.of(SEED_URL, url);
    const u0 = f.k0;
    const u1 = f.k1;
    f.of(SEED_PATH, path);
    const p0 = f.k0;
    const p1 = f.k1;
    const p2 = f.k2;
    if (t.lookup(p0, p1, p2)) {
      if (t.v0 === u0 && t.v1 === u1) return null;
    } else if (!this.impliedTaken(path)) {
      t.store(p0, p1, p2, u0, u1);
      return path;
    }

    // Taken: did this URL already get a suffixed name for this path?
    f.of(SEED_PAIR, path, url);
    const q0 = f.k0;
    const q1 = f.k1;
    const q2 = f.k2;
    if (t.lookup(q0, q1, q2)) return null;

    let k = this.nextSuffix(path);
    let cand: string;
    for (;;) {
      cand = withSuffix(path, k);
      f.of(SEED_PATH, cand);
      if (!t.lookup(f.k0, f.k1, f.k2)) break; // not held literally, and k >= counter so not implied either
      if (t.v0 === u0 && t.v1 === u1) return null; // this URL already holds that very name
      k++;
    }
    this.setNextSuffix(path, k + 1);
    t.store(q0, q1, q2, 1, 0);
    return cand;
  }

  /** Whether p is a suffixed name already handed out through its base's counter. */
  private impliedTaken(p: string): boolean {
    const parsed = parseSuffix(p);
    if (parsed === null) return false;
    return parsed.n < this.nextSuffix(parsed.path);
  }

  /** The base's counter: the lowest suffix not yet implied (1 when none was handed out). */
  private nextSuffix(base: string): number {
    const f = this.facts.of(SEED_COUNTER, base);
    const t = this.table;
    return t.lookup(f.k0, f.k1, f.k2) ? t.v0 + t.v1 * 0x100000000 : 1;
  }

  private setNextSuffix(base: string, next: number): void {
    const f = this.facts.of(SEED_COUNTER, base);
    this.table.store(f.k0, f.k1, f.k2, next >>> 0, Math.floor(next / 0x100000000));
  }
}
