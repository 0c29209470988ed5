// path fingerprint -> byte offset of its newest record in the state log: how a lookup finds a
// record without keeping a single path string in memory (see state.ts).

/**
 * path fingerprint -> byte offset of its newest record, on one Uint32Array (3 words per slot:
 * 32 key bits | 23 key bits, a gone flag, 8 offset bits | 32 offset bits). 55-bit keys and
 * 40-bit offsets in 12 bytes, with no string kept: the record itself is read back to confirm
 * the path. Open addressing, linear probing, grown 1.5x at load 0.8.
 */
export class OffsetIndex {
  private slots: Uint32Array;
  private cap: number;
  count = 0;

  constructor(capacity = 1024) {
    this.cap = capacity;
    this.slots = new Uint32Array(capacity * 3);
  }

  private static keyB(h2: number): number {
    return h2 & 0x7fffff;
  }

  private find(h1: number, kb: number): number {
    const s = this.slots;
    let i = h1 % this.cap;
    for (;;) {
      const w0 = s[i * 3]!;
      const w1 = s[i * 3 + 1]!;
      const b = w1 >>> 9;
      if (w0 === 0 && b === 0) return -i - 1;
      if (w0 === h1 && b === kb) return i;
      if (++i === this.cap) i = 0;
    }
  }

  /** Keeps the larger offset: the newest record wins whatever order offsets arrive in. */
  put(h1: number, h2: number, offset: number, gone: boolean): void {
    let kb = OffsetIndex.keyB(h2);
    if (h1 === 0 && kb === 0) kb = 1; // (0,0) is the empty marker
    let i = this.find(h1, kb);
    if (i >= 0) {
      if (this.offsetAt(i) > offset) return;
    } else {
      if (this.count + 1 > this.cap * 0.8) {
        this.grow();
        i = this.find(h1, kb);
      }
      i = -i - 1;
      this.count++;
    }
    const s = this.slots;
    s[i * 3] = h1;
    s[i * 3 + 1] = ((kb << 9) | (gone ? 0x100 : 0) | Math.floor(offset / 0x100000000)) >>> 0;
    s[i * 3 + 2] = offset >>> 0;
  }

  /** Offset of the newest record, -1 when unknown, -2 when its newest record says gone. */
  get(h1: number, h2: number): number {
    let kb = OffsetIndex.keyB(h2);
    if (h1 === 0 && kb === 0) kb = 1;
    const i = this.find(h1, kb);
    if (i < 0) return -1;
    if (this.slots[i * 3 + 1]! & 0x100) return -2;
    return this.offsetAt(i);
  }

  /** Offset stored for the key regardless of the gone flag, or -1. */
  rawOffset(h1: number, h2: number): number {
    let kb = OffsetIndex.keyB(h2);
    if (h1 === 0 && kb === 0) kb = 1;
    const i = this.find(h1, kb);
    return i < 0 ? -1 : this.offsetAt(i);
  }

  live(): number {
    let n = 0;
    const s = this.slots;
    for (let i = 0; i < this.cap; i++) {
      const w0 = s[i * 3]!;
      const w1 = s[i * 3 + 1]!;
      if ((w0 !== 0 || w1 >>> 9 !== 0) && !(w1 & 0x100)) n++;
    }
    return n;
  }

  private offsetAt(i: number): number {
    return (this.slots[i * 3 + 1]! & 0xff) * 0x100000000 + this.slots[i * 3 + 2]!;
  }

  private grow(): void {
    const old = this.slots;
    const oldCap = this.cap;
    this.cap = Math.ceil(oldCap * 1.5);
    this.slots = new Uint32Array(this.cap * 3);
    const s = this.slots;
    for (let j = 0; j < oldCap; j++) {
      const w0 = old[j * 3]!;
      const w1 = old[j * 3 + 1]!;
      if (w0 === 0 && w1 >>> 9 === 0) continue;
      let i = w0 % this.cap;
      while (s[i * 3] !== 0 || s[i * 3 + 1]! >>> 9 !== 0) if (++i === this.cap) i = 0;
      s[i * 3] = w0;
      s[i * 3 + 1] = w1;
      s[i * 3 + 2] = old[j * 3 + 2]!;
    }
  }
}

