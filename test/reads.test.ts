// Plain TCP sockets read into buffers of their own (src/http/reads.ts), 16 KiB at first and 128 KiB
// once a read fills one: a small read is copied out and the buffer kept, a big one is handed over
// whole and the socket reads on into a new buffer, so no byte a body still holds is read over; a
// big buffer whose one read was all body comes back (recycle) once that body chunk is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { largeReads, recycle } from '../src/http/reads.js';
import { fetchAll } from './helpers/lib.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('reads');

/** Calls the callback as net does: `this` is the socket, then the buffer function right after. */
function feed(sock: { push(b: Buffer): boolean }, buf: Buffer, n: number): { pushed: Buffer; next: Buffer | undefined; ret: boolean } {
  let pushed: Buffer | undefined;
  const fake = { push: (b: Buffer) => ((pushed = b), sock.push(b)) };
  const ret = largeReads.callback.call(fake as unknown as net.Socket, n, buf);
  const next = largeReads.buffer();
  return { pushed: pushed!, next, ret };
}

test('reads: a socket starts on 16 KiB; a small read is copied and the buffer kept; a half-full one is handed over; a full one brings 128 KiB', () => {
  const sink = { push: () => true };
  const first = largeReads.buffer();
  assert.ok(first instanceof Uint8Array);
  assert.equal(first!.length, 16 << 10);
  let buf = first!;

  buf.fill(7, 0, 5000);
  const small = feed(sink, buf, 5000);
  assert.equal(small.next, undefined, 'the socket keeps reading into the same buffer');
  assert.equal(small.pushed.length, 5000);
  assert.notEqual(small.pushed.buffer, buf.buffer, 'a small read is a copy');
  buf.fill(9, 0, 5000); // the next read lands in the same buffer
  assert.ok(small.pushed.every((b) => b === 7), 'the copy keeps its bytes');

  const half = feed(sink, buf, 10_000);
  assert.equal(half.pushed.buffer, buf.buffer, 'a half-full read is the buffer itself');
  assert.ok(half.next instanceof Uint8Array && half.next.length === 16 << 10, 'a new buffer of the same size');
  assert.notEqual(half.next!.buffer, buf.buffer);
  buf = half.next!;

  const full = feed(sink, buf, 16 << 10);
  assert.equal(full.pushed.buffer, buf.buffer);
  assert.ok(full.next instanceof Uint8Array && full.next.length === 128 << 10, 'a body streams in: 128 KiB reads');
  buf = full.next!;

  buf.fill(5, 0, 30_000);
  const mid = feed(sink, buf, 30_000);
  assert.equal(mid.next, undefined);
  assert.notEqual(mid.pushed.buffer, buf.buffer, 'a read under half the buffer is a copy');
  buf.fill(9, 0, 30_000);
  assert.ok(mid.pushed.every((b) => b === 5));

  buf.fill(3, 0, 100_000);
  const big = feed(sink, buf, 100_000);
  assert.equal(big.pushed.length, 100_000);
  assert.equal(big.pushed.buffer, buf.buffer, 'a big read is the buffer itself');
  assert.ok(big.next instanceof Uint8Array && big.next.length === 128 << 10);
  assert.notEqual(big.next!.buffer, buf.buffer, 'the socket reads on into a new buffer');
  assert.ok(big.pushed.every((b) => b === 3));

  // A socket made now starts small again.
  assert.equal(largeReads.buffer()!.length, 16 << 10);
});

test('reads: 8 full 128 KiB reads in a row bring 512 KiB reads; one that is not full resets the count; a 512 KiB buffer read little goes back to 128 KiB', () => {
  const sink = { push: () => true };
  // One socket throughout: the count is the socket's.
  const sock = sink as unknown as net.Socket;
  const read = (buf: Uint8Array, n: number): Uint8Array | undefined => {
    largeReads.callback.call(sock, n, buf);
    return largeReads.buffer();
  };
  let buf = read(largeReads.buffer()!, 16 << 10)!;
  assert.equal(buf.length, 128 << 10);
  for (let i = 0; i < 7; i++) buf = read(buf, 128 << 10)!;
  assert.equal(buf.length, 128 << 10, 'seven in a row: still 128 KiB');
  buf = read(buf, 100_000)!; // a read that is not full: the count starts again
  for (let i = 0; i < 7; i++) buf = read(buf, 128 << 10)!;
  assert.equal(buf.length, 128 << 10);
  buf = read(buf, 128 << 10)!;
  assert.equal(buf.length, 512 << 10, 'the eighth full one in a row: a big body, 512 KiB reads');
  buf = read(buf, 512 << 10)!;
  assert.equal(buf.length, 512 << 10, 'full: stays');
  buf = read(buf, 300 << 10)!;
  assert.equal(buf.length, 512 << 10, 'half full or more: stays');
  const slowed = buf;
  buf = read(buf, 100 << 10)!;
  assert.equal(buf.length, 128 << 10, 'under half: back to 128 KiB');
  assert.notEqual(buf.buffer, slowed.buffer, '(that read was handed over)');
  buf = read(buf, 128 << 10)!;
  assert.equal(buf.length, 128 << 10, 'and the count starts from nothing');
  // A 512 KiB buffer that gets a small read: copied, and the buffer is the next 512 KiB read's.
  let big: Uint8Array = largeReads.buffer()!;
  for (let i = 0; i < 9; i++) big = read(big, big.length)!;
  assert.equal(big.length, 512 << 10);
  const little = big;
  assert.equal(read(little, 3000)!.length, 128 << 10);
  let again: Uint8Array = read(largeReads.buffer()!, 16 << 10)!;
  for (let i = 0; i < 8; i++) again = read(again, 128 << 10)!;
  assert.equal(again.buffer, little.buffer, 'the buffer of the copied read is read into again');
});

test('reads: false from push (the stream is full) stops reading, as Node does', () => {
  const buf = largeReads.buffer()!;
  assert.equal(feed({ push: () => false }, buf, 10).ret, false);
  assert.equal(feed({ push: () => true }, buf, 10).ret, true);
});

type After = { after: (fn: () => void) => void };

/** A raw server answering each request on a kept-alive connection with answer(path)'s exact bytes. */
async function rawServer(t: After, answer: (reqPath: string) => Buffer): Promise<number> {
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const reqPath = buf.slice(0, end).split(' ')[1]!;
        buf = buf.slice(end + 4);
        sock.write(answer(reqPath));
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

const withLength = (body: Buffer) => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);

/** Watches the reads net makes for the sockets (net takes the callback when a socket is made). */
function watchReads(t: After, seen: (n: number, b: Uint8Array) => void): void {
  const original = largeReads.callback;
  (largeReads as { callback: typeof original }).callback = function (this: net.Socket, n: number, b: Uint8Array) {
    seen(n, b);
    return original.call(this, n, b);
  };
  t.after(() => {
    (largeReads as { callback: typeof original }).callback = original;
  });
}

/** Downloads `order` over one connection and checks every file against its body. */
async function fetchIntact(port: number, order: string[], bodies: Map<string, Buffer>): Promise<void> {
  const dest = tmp();
  const r = await fetchAll(order.map((p) => `http://127.0.0.1:${port}${p}`), { dest, limit: 1 });
  assert.equal(r.code, 0);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  for (const p of order) assert.equal(sha(readFileSync(path.join(dest, p.slice(1)))), sha(bodies.get(p)!), p);
}

test('reads: bodies big and small on one kept-alive connection arrive intact, read more than 64 KiB at a time', async (t) => {
  // Exact bytes from a raw server: small answers around a 3 MiB one sent in one write, so reads
  // are both copied and handed over while earlier bodies still wait to be written.
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < 6; i++) bodies.set(`/s${i}.bin`, randomBytes(3000 + i * 1000));
  bodies.set('/big.bin', randomBytes(3 << 20));
  bodies.set('/mid.bin', randomBytes(300_000));
  const port = await rawServer(t, (p) => withLength(bodies.get(p)!));
  let largest = 0;
  watchReads(t, (n) => {
    largest = Math.max(largest, n);
  });
  await fetchIntact(port, ['/s0.bin', '/s1.bin', '/big.bin', '/s2.bin', '/s3.bin', '/mid.bin', '/s4.bin', '/s5.bin'], bodies);
  assert.ok(largest > 64 << 10, `largest read ${largest} bytes`);
});

test('reads: recycle takes back a 128 KiB buffer only from the view that is its whole read, once', () => {
  const sink = { push: () => true };
  // Bring a socket to 128 KiB reads.
  let buf = largeReads.buffer()!;
  buf = feed(sink, buf, buf.length).next!;
  assert.equal(buf.length, 128 << 10);

  const whole = feed(sink, buf, 100_000);
  const a = whole.pushed;
  buf = whole.next!;
  // Views that are not the whole read: a head before the body, a body that ends early, a copy.
  recycle(a.subarray(10));
  recycle(a.subarray(0, 50_000));
  recycle(Buffer.from(a));
  const other = feed(sink, buf, 128 << 10);
  assert.notEqual(other.next!.buffer, a.buffer, 'no view short of the whole read gives the buffer back');
  buf = other.next!;

  recycle(a);
  recycle(a); // a second time is ignored
  const again = feed(sink, buf, 128 << 10);
  assert.equal(again.next!.buffer, a.buffer, 'the next big read goes into the written buffer');
  assert.equal(again.next!.length, 128 << 10);
  const after = feed(sink, again.next!, 128 << 10);
  assert.notEqual(after.next!.buffer, a.buffer, 'given back once, taken once');
  // A 16 KiB buffer handed over never comes back: a 128 KiB read must not get it.
  const b16 = largeReads.buffer()!;
  const h = feed(sink, b16, 12_000);
  assert.equal(h.pushed.buffer, b16.buffer, 'handed over');
  recycle(h.pushed);
  const big = feed(sink, after.next!, 128 << 10).next!;
  assert.equal(big.length, 128 << 10);
  assert.notEqual(big.buffer, b16.buffer);
});

test('reads: big bodies (Content-Length and chunked) one after another on one connection reuse written buffers, every byte intact', async (t) => {
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < 4; i++) bodies.set(`/cl${i}.bin`, randomBytes((2 << 20) + i * 77_777));
  for (let i = 0; i < 3; i++) bodies.set(`/ch${i}.bin`, randomBytes((1 << 20) + i * 55_555));
  bodies.set('/small.bin', randomBytes(5000));
  const port = await rawServer(t, (p) => {
    const body = bodies.get(p)!;
    if (!p.startsWith('/ch')) return withLength(body);
    // Chunks of 200 KiB: many reads fall inside one chunk's data.
    const parts: Buffer[] = [Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
    for (let at = 0; at < body.length; at += 200 << 10) {
      const c = body.subarray(at, at + (200 << 10));
      parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat(parts);
  });
  // Buffers handed over with a read (half full or more), and reads into one of them again.
  const handed = new Set<ArrayBufferLike>();
  let reused = 0;
  watchReads(t, (n, b) => {
    if (handed.has(b.buffer)) reused++;
    if (b.length === 128 << 10 && n >= b.length >> 1) handed.add(b.buffer);
  });
  await fetchIntact(port, ['/cl0.bin', '/ch0.bin', '/small.bin', '/cl1.bin', '/ch1.bin', '/cl2.bin', '/ch2.bin', '/cl3.bin'], bodies);
  assert.ok(reused > 0, `a written buffer was read into again (${reused} times, ${handed.size} handed over)`);
});

test('reads: a body of many MiB streams in 512 KiB reads into buffers read into again, every byte intact', async (t) => {
  const bodies = new Map<string, Buffer>([['/a.bin', randomBytes(12 << 20)], ['/s.bin', randomBytes(4000)], ['/b.bin', randomBytes(5 << 20)]]);
  const port = await rawServer(t, (p) => withLength(bodies.get(p)!));
  const handed = new Set<ArrayBufferLike>();
  let big = 0;
  let reused = 0;
  watchReads(t, (n, b) => {
    if (b.length !== 512 << 10) return;
    big++;
    if (handed.has(b.buffer)) reused++;
    if (n >= 64 << 10) handed.add(b.buffer);
  });
  await fetchIntact(port, ['/a.bin', '/s.bin', '/b.bin'], bodies);
  assert.ok(big > 0, 'reads into 512 KiB buffers');
  assert.ok(reused > 0, `a written 512 KiB buffer was read into again (${reused} of ${big} reads)`);
});
