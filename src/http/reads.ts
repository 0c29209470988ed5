// How a plain TCP socket's bytes are read: up to 128 KiB per read call instead of Node's 64 KiB.
//
// Node reads a socket into a fresh 64 KiB buffer each time it is readable, so a body streaming in
// on loopback costs a read, a buffer and a pass through the stream and the parser per 64 KiB.
// Measured 2026-12-03 (2 cores, nginx on loopback, tmpfs, 7 interleaved rounds, medians):
// - a bare `net` client writing each chunk with writeSync, 200 x 1 MiB over 16 connections: 0.296 s
//   with Node's reads, 0.206 s reading into 256 KiB buffers of its own, 0.221 s when those chunks
//   still go through the socket's stream (as here), 0.282 s with 64 KiB ones: the size of a read
//   is what pays, not the buffer's reuse;
// - bulkget, 2 x 512 MiB over 4 connections: 1.043 -> 0.951 s, 1.43 -> 1.31 CPU s on Node 20.20
//   (256 KiB reads 0.961 s, 512 KiB 0.969 s, at 5 and 13 MiB more peak RSS than 128); Node 24.21
//   1.083 -> 0.981 s. 200 x 1 MiB and 2,000 x 1 MiB within noise (0.357-0.383 s for every read
//   size, both versions); 10,000 x 4 KiB within noise (0.736 vs 0.750 s, over 3 hosts 0.873 vs
//   0.853 s, 9 rounds).
//
// Each socket reads into a buffer of its own (net's `onread` option). What one read brings is
// pushed into the socket's stream as Node would push it, so undici and lenient.ts read it with
// `socket.read()` as before. A read that filled half the buffer or more hands the buffer itself
// over (its bytes may be kept until they are written) and the socket reads on into a new one; a
// smaller read is copied out, so a 4 KiB answer never pins 128 KiB, and the socket keeps its
// buffer. No byte a body still holds is ever read over. Sockets that run TLS are left to Node.

import type { Socket } from 'node:net';

const READ_BYTES = 128 << 10;
const HAND_OVER = READ_BYTES >> 1;
// Small reads (one small answer each) are copied into a shared slab, one after the other, as
// Buffer.allocUnsafe does below 4 KiB: no allocation per read.
const SLAB_BYTES = 64 << 10;
const SLAB_MAX_COPY = 16 << 10;
let slab = Buffer.allocUnsafeSlow(0);
let slabAt = 0;

// net calls the buffer function with no socket: once when the socket is made (a buffer is needed
// then) and right after each callback (which says here whether its buffer was handed over).
const MADE = 0;
const KEPT = 1;
const HANDED = 2;
let last = MADE;

function nextBuffer(): Buffer | undefined {
  const was = last;
  last = MADE;
  return was === KEPT ? undefined : Buffer.allocUnsafeSlow(READ_BYTES);
}

function onRead(this: Socket, n: number, buf: Uint8Array): boolean {
  let chunk: Buffer;
  if (n >= HAND_OVER) {
    chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
    last = HANDED;
  } else {
    if (n <= SLAB_MAX_COPY) {
      if (slab.length - slabAt < n) {
        slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        slabAt = 0;
      }
      chunk = slab.subarray(slabAt, slabAt + n);
      slabAt += n;
    } else chunk = Buffer.allocUnsafe(n);
    chunk.set(buf.subarray(0, n));
    last = KEPT;
  }
  // false (more than the stream's high-water mark waits unread) stops reading until the next
  // socket.read(), as Node's own reads do.
  return this.push(chunk);
}

/** The `onread` option of net.connect for the sockets of plain http endpoints. */
export const largeReads = { buffer: nextBuffer, callback: onRead } as const;
