// MurmurHash3's x86 128-bit mixing, fed UTF-16 code units two per 32-bit word, so no string is
// encoded to bytes first. Streaming: several strings can go into one hash (a path, a separator
// and a URL). Each user owns a Hash128, so nothing is shared between runs; its result sits in
// fields, so the per-item path allocates nothing. Not a cryptographic hash: inputs built on
// purpose to collide could make two names one; only the list's author could build them.

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Murmur3's 32-bit finaliser: every input bit reaches every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Hash128 {
  /** The result of the last end(): four unsigned 32-bit words. */
  h1 = 0;
  h2 = 0;
  h3 = 0;
  h4 = 0;
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;
  private units = 0;

  begin(seed: number): this {
    this.h1 = this.h2 = this.h3 = this.h4 = seed;
    this.w0 = this.w1 = this.w2 = this.w3 = 0;
    this.units = 0;
    return this;
  }

  /** One UTF-16 code unit (or any value up to 0xFFFF: 0 serves as a separator). */
  unit(c: number): this {
    const at = this.units & 7;
    const v = (at & 1) === 0 ? c : c << 16;
    switch (at >> 1) {
      case 0:
        this.w0 |= v;
        break;
      case 1:
        this.w1 |= v;
        break;
      case 2:
        this.w2 |= v;
        break;
      default:
        this.w3 |= v;
    }
    this.units++;
    if ((this.units & 7) === 0) this.block();
    return this;
  }

  feed(s: string): this {
    const n = s.length;
    let i = 0;
    while (i < n && (this.units & 7) !== 0) this.unit(s.charCodeAt(i++));
    // Whole blocks straight from the string: most of a URL goes this way.
    while (i + 8 <= n) {
      this.w0 = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
      this.w1 = s.charCodeAt(i + 2) | (s.charCodeAt(i + 3) << 16);
      this.w2 = s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 16);
      this.w3 = s.charCodeAt(i + 6) | (s.charCodeAt(i + 7) << 16);
      this.units += 8;
      i += 8;
      this.block();
    }
    while (i < n) this.unit(s.charCodeAt(i++));
    return this;
  }

  end(): this {
    const rest = this.units & 7;
    if (rest > 6) this.h4 ^= Math.imul(rotl(Math.imul(this.w3, C4), 18), C1);
    if (rest > 4) this.h3 ^= Math.imul(rotl(Math.imul(this.w2, C3), 17), C4);
    if (rest > 2) this.h2 ^= Math.imul(rotl(Math.imul(this.w1, C2), 16), C3);
    if (rest > 0) this.h1 ^= Math.imul(rotl(Math.imul(this.w0, C1), 15), C2);
    const len = this.units * 2;
    let h1 = this.h1 ^ len;
    let h2 = this.h2 ^ len;
    let h3 = this.h3 ^ len;
    let h4 = this.h4 ^ len;
    h1 = (h1 + h2 + h3 + h4) | 0;
    h2 = (h2 + h1) | 0;
    h3 = (h3 + h1) | 0;
    h4 = (h4 + h1) | 0;
    h1 = fmix32(h1);
    h2 = fmix32(h2);
    h3 = fmix32(h3);
    h4 = fmix32(h4);
    h1 = (h1 + h2 + h3 + h4) >>> 0;
    this.h1 = h1;
    this.h2 = (h2 + h1) >>> 0;
    this.h3 = (h3 + h1) >>> 0;
    this.h4 = (h4 + h1) >>> 0;
    return this;
  }

  private block(): void {
    let k = Math.imul(rotl(Math.imul(this.w0, C1), 15), C2);
    this.h1 ^= k;
    this.h1 = (Math.imul(rotl(this.h1, 19) + this.h2, 5) + 0x561ccd1b) | 0;
    k = Math.imul(rotl(Math.imul(this.w1, C2), 16), C3);
    this.h2 ^= k;
    this.h2 = (Math.imul(rotl(this.h2, 17) + this.h3, 5) + 0x0bcaa747) | 0;
    k = Math.imul(rotl(Math.imul(this.w2, C3), 17), C4);
    this.h3 ^= k;
    this.h3 = (Math.imul(rotl(this.h3, 15) + this.h4, 5) + 0x96cd1c35) | 0;
    k = Math.imul(rotl(Math.imul(this.w3, C4), 18), C1);
    this.h4 ^= k;
    this.h4 = (Math.imul(rotl(this.h4, 13) + this.h1, 5) + 0x32ac3b17) | 0;
    this.w0 = this.w1 = this.w2 = this.w3 = 0;
  }
}

/** hash128(s) as four unsigned words: a convenience for tests and cold paths. */
export function hash128(s: string, seed = 0): [number, number, number, number] {
  const h = new Hash128().begin(seed).feed(s).end();
  return [h.h1, h.h2, h.h3, h.h4];
}
