// How a plain TCP socket's bytes are read: into buffers of its own, 128 KiB per read call once a
// body streams in and 512 KiB past its first MiB, instead of Node's fresh 64 KiB per read.
//
// Node reads a socket into a fresh 64 KiB buffer each time it is readable, so a body streaming in
// on loopback costs a read, a buffer and a pass through the stream and the parser per 64 KiB.
// Measured 2026-12-03 (2 cores, nginx on loopback, tmpfs, 7 interleaved rounds, medians):
// - a bare `net` client writing each chunk with writeSync, 200 x 1 MiB over 16 connections: 0.296 s
//   with Node's reads, 0.206 s reading into 256 KiB buffers of its own, 0.221 s when those chunks
//   still go through the socket's stream (as here), 0.282 s with 64 KiB ones: the size of a read
//   is what pays, not the buffer's reuse;
// - bulkget, 2 x 512 MiB over 4 connections: 1.021 -> 0.953 s, 1.42 -> 1.32 CPU s on Node 20.20;
//   1.183 -> 0.957 s on Node 24.21 (reads of 256 and 512 KiB were then no faster than 128 and held
//   5 and 13 MiB more: that was before written buffers were read into again, see BIG_BYTES).
//   200 x 1 MiB, 2,000 x 1 MiB and 10,000 x 4 KiB within noise on both.
//
// A new socket reads into 16 KiB: a small answer fits, and a thousand idle sockets reserve 16 MiB,
// not 125 (V8 counts these buffers as external memory against its heap limits too: with 128 KiB
// for each of 64 sockets from the start, external memory at the 10,000-file run's peak was 12.0
// MiB instead of 2.6, and one bench run measured the million-file run 33.4 bytes per item above
// that run, against 27.4 before). A read that fills its buffer says a body is streaming in: the
// socket's next buffer is 128 KiB. What one read brings is pushed into the socket's stream as
// Node would push it, so undici and lenient.ts read it with `socket.read()` as before. A read
// that filled half its buffer or more hands the buffer itself over (its bytes may be kept until
// they are written) and the socket reads on into a new one; a smaller read is copied out, so a
// 4 KiB answer never pins a whole buffer, and the socket keeps its buffer. No byte a body still
// holds is ever read over. Sockets that run TLS are left to Node.
//
// A 128 KiB buffer handed over comes back once its bytes are on disk (recycle(), called by the
// body's file through the transfer), when its one read was all body: the parser then made one
// view of the whole read, and nothing else holds it. A read that also held a head, a chunk-size
// line or another answer's end was cut into several views and is left to the GC, as before.
// Handed-over buffers had been garbage until V8 collected them, which it schedules by heap size:
// up to ~48 MiB of them were resident at once. Measured 2026-12-03 (5 interleaved rounds,
// medians): 2 x 512 MiB 0.868 -> 0.802 s and 100 -> 79 MiB peak on Node 20.20, 0.959 -> 0.810 s and
// 119 -> 90 MiB on Node 24.21; with --jobs 2 (a heap per job) 152 -> 92 MiB and 1.080 -> 0.934 s;
// 200 x 1 MiB at the same speed, 104 -> 90 MiB (Node 24: 116 -> 108). The free list is the
// process's, like the slab: a buffer in it belongs to no download, one taken from it to one read.

import type { Socket } from 'node:net';

/** A new socket's buffer: enough for a small answer, little to hold for each of many sockets. */
const FIRST_BYTES = 16 << 10;
/** The buffer of a socket whose read filled the one before (a body streaming in). */
const READ_BYTES = 128 << 10;
/**
 * The buffer of a socket whose last BIG_AFTER reads each filled 128 KiB: a body past 1 MiB
 * streaming in, which a 1 MiB one never is (its last read holds less). Measured 2026-12-03 once
 * written buffers were read into again (7 interleaved rounds, medians), 2 x 512 MiB: 1.14 -> 1.03
 * CPU s and 0.813 -> 0.773 s on Node 20.20, 1.07 -> 0.94 CPU s and 0.780 -> 0.720 s on Node 24.21,
 * peak RSS 79 -> 72 and 90 -> 82 MiB; --jobs 2 0.937 -> 0.902 s. 200 x 1 MiB and 10,000 x 4 KiB
 * within noise. 512 KiB for every read after the first full one was faster still on 2 x 512 MiB
 * (0.736 s against 0.795, another run) but held 200 x 1 MiB 14 MiB higher; 1 MiB there: 0.709 s
 * at 78 MiB against 512 KiB's 0.737 s at 69.
 */
const BIG_BYTES = 512 << 10;
const BIG_AFTER = 8;
// Full 128 KiB reads in a row, per socket.
const streaks = new WeakMap<object, number>();
// Small reads (one small answer each) are copied into a shared slab, one after the other, as
// Buffer.allocUnsafe does below 4 KiB: no allocation per read.
const SLAB_BYTES = 64 << 10;
const SLAB_MAX_COPY = 16 << 10;
let slab = Buffer.allocUnsafeSlow(0);
let slabAt = 0;

// net calls the buffer function with no socket: once when the socket is made, and right after
// each read's callback, which leaves here the size of the socket's next buffer (0: it keeps its
// buffer). What is left unset when the function runs is a new socket's.
let nextBytes = FIRST_BYTES;

// Big buffers whose bytes have been written, ready for another read (see recycle()): 2 MiB of
// 128 KiB ones at most, 4 MiB of 512 KiB ones.
const FREE_MAX = 16;
const free: Buffer[] = [];
const BIG_FREE_MAX = 8;
const freeBig: Buffer[] = [];
// A big buffer handed over with a read, and that read's length, until recycle() takes it back.
const handedOver = new WeakMap<ArrayBufferLike, number>();

function nextBuffer(): Buffer | undefined {
  const n = nextBytes;
  nextBytes = FIRST_BYTES;
  if (n === 0) return undefined;
  if (n === READ_BYTES && free.length > 0) return free.pop();
  if (n === BIG_BYTES && freeBig.length > 0) return freeBig.pop();
  return Buffer.allocUnsafeSlow(n);
}

/**
 * Takes back the buffer under `chunk` once its bytes are written, for a later read: only when
 * `chunk` is the whole of one big read (every byte of it body, so no other view on it exists: a
 * read that also held a head or another body's end was cut into several views).
 */
export function recycle(chunk: Buffer): void {
  const ab = chunk.buffer;
  // Only 128 and 512 KiB buffers are ever in handedOver.
  if (chunk.byteOffset !== 0 || handedOver.get(ab) !== chunk.length) return;
  handedOver.delete(ab);
  if (ab.byteLength === BIG_BYTES) {
    if (freeBig.length < BIG_FREE_MAX) freeBig.push(Buffer.from(ab, 0, BIG_BYTES));
  } else if (free.length < FREE_MAX) free.push(Buffer.from(ab, 0, READ_BYTES));
}

/** The next buffer's size after a read that filled one of `size`. */
function fullNext(socket: Socket, size: number): number {
  if (size !== READ_BYTES) return size === FIRST_BYTES ? READ_BYTES : size;
  const streak = (streaks.get(socket) ?? 0) + 1;
  if (streak < BIG_AFTER) {
    streaks.set(socket, streak);
    return READ_BYTES;
  }
  streaks.delete(socket);
  return BIG_BYTES;
}

function onRead(this: Socket, n: number, buf: Uint8Array): boolean {
  let chunk: Buffer;
  let next = 0;
  const big = buf.length === BIG_BYTES;
  if (n >= buf.length >> 1 || (big && n >= READ_BYTES >> 1)) {
    // Half full or more (64 KiB or more of a 512 KiB one): handed over. A full one says more is
    // waiting: the next one is bigger. A 512 KiB one under half full: the body slowed down or
    // ended, back to 128 KiB.
    chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
    if (buf.length >= READ_BYTES) handedOver.set(buf.buffer, n);
    if (n === buf.length) next = fullNext(this, buf.length);
    else {
      streaks.delete(this);
      next = big && n < BIG_BYTES >> 1 ? READ_BYTES : buf.length;
    }
  } else {
    streaks.delete(this);
    if (n <= SLAB_MAX_COPY) {
      if (slab.length - slabAt < n) {
        slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        slabAt = 0;
      }
      chunk = slab.subarray(slabAt, slabAt + n);
      slabAt += n;
    } else chunk = Buffer.allocUnsafe(n);
    chunk.set(buf.subarray(0, n));
    if (big) {
      // A socket past a big body reading little (small answers on a kept-alive connection): it
      // goes back to 128 KiB, and this buffer, which only ever held copied reads, to the free list.
      next = READ_BYTES;
      if (freeBig.length < BIG_FREE_MAX) freeBig.push(Buffer.from(buf.buffer, 0, BIG_BYTES));
    }
  }
  // false (more than the stream's high-water mark waits unread) stops reading until the next
  // socket.read(), as Node's own reads do.
  const more = this.push(chunk);
  // Left for the buffer function only now: a socket made while push ran (by a listener it
  // called) asks for its first buffer, and must not take this one's answer.
  nextBytes = next;
  return more;
}

/** The `onread` option of net.connect for the sockets of plain http endpoints. */
export const largeReads = { buffer: nextBuffer, callback: onRead } as const;
