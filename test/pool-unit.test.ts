// The ConnectionPool on its own, against real sockets: limits, reuse, fairness, eviction.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { ConnectionPool } from '../src/pool/pool.js';
import type { Lease } from '../src/types.js';
import { startServer, type Counter } from './helpers/server.js';

function pool(limit: number, perHost: number, rate = 0) {
  const sockets = { open: 0, peak: 0 };
  const p = new ConnectionPool({
    limit,
    perHost,
    rate,
    makeClient: (origin) => new Client(origin, { keepAliveTimeout: 10_000 }),
    onSocket: (d) => {
      sockets.open += d;
      if (sockets.open > sockets.peak) sockets.peak = sockets.open;
    },
  });
  return { p, sockets };
}

async function get(p: ConnectionPool, url: string, front = false): Promise<number> {
  const u = new URL(url);
  const lease: Lease = await p.acquire(u.origin, front);
  try {
    const res = await lease.client.request({ method: 'GET', path: u.pathname + u.search });
    await res.body.arrayBuffer();
    return res.statusCode;
  } finally {
    lease.release();
  }
}

test('total and per-host limits bound real sockets, reached and never exceeded', async (t) => {
  const group: Counter = { open: 0, peak: 0 };
  const servers = await Promise.all([0, 1, 2, 3].map(() => startServer({ group })));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const { p, sockets } = pool(5, 2);
  const jobs: Promise<number>[] = [];
  for (let i = 0; i < 12; i++) for (const s of servers) jobs.push(get(p, s.url(`/slow/f${i}?ms=60&size=2000`)));
  const statuses = await Promise.all(jobs);
  await p.close();
  assert.ok(statuses.every((s) => s === 200));
  assert.equal(group.peak, 5, 'total connections seen by the servers');
  assert.ok(sockets.peak <= 5, `undici reported ${sockets.peak} sockets`);
  for (const s of servers) assert.ok(s.conns.peak <= 2, `port ${s.port} saw ${s.conns.peak}`);
  assert.equal(Math.max(...servers.map((s) => s.conns.peak)), 2);
  assert.ok(p.peakSlots <= 5);
});

test('keep-alive: one host, one slot, many requests reuse one connection', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const { p } = pool(10, 1);
  for (let i = 0; i < 20; i++) assert.equal(await get(p, s.url(`/file/a${i}?size=100`)), 200);
  await p.close();
  assert.equal(s.accepted, 1);
  assert.equal(s.requests.length, 20);
});

test('a drained host gives its idle sockets to a waiting host (limit binds)', async (t) => {
  const group: Counter = { open: 0, peak: 0 };
  const a = await startServer({ group });
  const b = await startServer({ group });
  t.after(() => Promise.all([a.close(), b.close()]));
  const { p } = pool(3, 0);
  // A fills all three slots and finishes; its sockets stay idle (keep-alive) ...
  await Promise.all([0, 1, 2].map((i) => get(p, a.url(`/file/x${i}?size=10&delay=30`))));
  assert.equal(a.conns.open, 3);
  // ... until B needs them: B must get three connections, and the total never passes 3.
  await Promise.all([0, 1, 2, 3, 4, 5].map((i) => get(p, b.url(`/slow/y${i}?ms=60&size=100`))));
  await p.close();
  assert.equal(b.conns.peak, 3);
  assert.ok(group.peak <= 3, `total peak ${group.peak}`);
});

test('fairness: a host later in the queue is served while the first is still busy', async (t) => {
  const a = await startServer();
  const b = await startServer();
  t.after(() => Promise.all([a.close(), b.close()]));
  const { p } = pool(4, 0);
  const jobs: Promise<number>[] = [];
  for (let i = 0; i < 40; i++) jobs.push(get(p, a.url(`/file/a${i}?size=10&delay=20`)));
  for (let i = 0; i < 40; i++) jobs.push(get(p, b.url(`/file/b${i}?size=10&delay=20`)));
  await Promise.all(jobs);
  await p.close();
  const firstB = b.requests[0]!.at;
  const aBefore = a.requests.filter((r) => r.at < firstB).length;
  assert.ok(aBefore < 20, `A had ${aBefore} of 40 requests before B's first`);
});

test('front-of-queue waiters (retries) go before later input', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const { p } = pool(1, 1);
  const first = await p.acquire(s.origin);
  const order: string[] = [];
  const w1 = p.acquire(s.origin).then((l) => (order.push('late'), l.release()));
  const w2 = p.acquire(s.origin, true).then((l) => (order.push('retry'), l.release()));
  first.release();
  await Promise.all([w1, w2]);
  await p.close();
  assert.deepEqual(order, ['retry', 'late']);
});

test('pause holds an endpoint until the given time', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const { p } = pool(4, 0);
  p.pause(s.origin, Date.now() + 300);
  const t0 = Date.now();
  await get(p, s.url('/file/p?size=10'));
  await p.close();
  assert.ok(s.requests[0]!.at > 0);
  assert.ok(Date.now() - t0 >= 290, 'the request waited for the pause');
});

test('--rate spaces request starts per endpoint', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const { p } = pool(10, 0, 20); // 20/s = one every 50 ms
  await Promise.all([0, 1, 2, 3, 4].map((i) => get(p, s.url(`/file/r${i}?size=10`))));
  await p.close();
  const times = s.requests.map((r) => r.at).sort((x, y) => x - y);
  // Starts are granted 50 ms apart; arrivals at the server jitter by a few ms on a busy machine
  // (one late, the next on time), so the bound is on the whole span and on bursts.
  assert.ok(times[4]! - times[0]! >= 4 * 45, `5 requests over ${Math.round(times[4]! - times[0]!)} ms`);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 20, `gap ${times[i]! - times[i - 1]!} ms`);
});

test('close rejects waiters and closes idle sockets', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const { p, sockets } = pool(1, 0);
  await get(p, s.url('/file/c?size=10'));
  const lease = await p.acquire(s.origin);
  const waiting = p.acquire(s.origin);
  lease.release();
  await waiting.then((l) => l.release());
  const blocked = p.acquire(s.origin);
  const held = await blocked;
  const never = p.acquire(s.origin);
  await p.close();
  await assert.rejects(never, /closed/);
  held.release();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sockets.open, 0);
});

test('a full endpoint paused while its waiters queue is served when the pause ends', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const { p } = pool(4, 1);
  const first = await p.acquire(s.origin);
  const waiting = p.acquire(s.origin); // parked: the endpoint is full (per-host 1)
  p.pause(s.origin, Date.now() + 150);
  first.release(); // released while paused: nobody else will ever acquire here
  const lease = await Promise.race([waiting, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
  assert.ok(lease, 'the parked waiter got the slot after the pause');
  lease!.release();
  await p.close();
});

test('a slot given back to settle (its socket closed on our side) is closed, counts until settled, and its host\'s next waiter is served', { timeout: 5000 }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  let settleNext = true;
  let settled = 0;
  const p = new ConnectionPool({
    limit: 2,
    perHost: 1,
    rate: 0,
    makeClient: (origin) => new Client(origin),
    settle: (client) => {
      if (!settleNext) return undefined;
      settleNext = false;
      return client.destroy().then(() => new Promise<void>((resolve) => setTimeout(() => { settled++; resolve(); }, 30)));
    },
  });
  const first = await p.acquire(s.origin);
  const second = p.acquire(s.origin); // waits: --per-host 1
  first.release();
  assert.equal(p.slotsInUse, 1, 'the settling slot still counts');
  const lease = await second;
  assert.equal(settled, 1, 'served only once the first slot settled');
  assert.notEqual(lease.client, first.client, 'a new Client, not the one given back');
  const res = await lease.client.request({ method: 'GET', path: '/file/a?size=10' });
  await res.body.arrayBuffer();
  assert.equal(res.statusCode, 200);
  lease.release();
  await p.close();
});

// Clients that never send anything: no server is needed to watch the pool decide.
function quietPool(limit: number, perHost: number) {
  const evicted: Client[] = [];
  const p = new ConnectionPool({
    limit,
    perHost,
    rate: 0,
    makeClient: (origin) => new Client(origin),
    evictClient: (client) => (evicted.push(client), client.close()),
  });
  return { p, evicted };
}
const A = 'http://127.0.0.1:9';
const B = 'http://127.0.0.1:10';

test('look-ahead: without limit for a host at its cap, a few per endpoint while sockets close, none when all are leased', async () => {
  const { p, evicted } = quietPool(2, 0);
  const a1 = await p.acquire(A);
  const a2 = await p.acquire(A);
  const waitingB = p.acquire(B); // the total binds: B waits
  assert.equal(p.lookAhead(), 0, 'every slot leased: more items would only wait');
  a1.release(); // A has nothing queued and B none of the total: A's socket is closed for B
  assert.equal(evicted.length, 1);
  const extra = p.lookAhead();
  assert.ok(extra > 0 && Number.isFinite(extra), `a bounded look-ahead while a socket closes, got ${extra}`);
  const b1 = await waitingB;
  assert.notEqual(b1.client, a1.client);
  const q = quietPool(4, 1).p;
  const only = await q.acquire(A);
  const capped = q.acquire(A);
  assert.equal(q.lookAhead(), Infinity, 'A waits for its --per-host cap while the total has room: look for other hosts');
  only.release();
  (await capped).release();
  b1.release();
  a2.release();
  await Promise.all([p.close(), q.close()]);
});

test('an idle socket goes to a new waiter of its own host at once, even while another host waits for the total', async () => {
  const { p, evicted } = quietPool(3, 0);
  const a1 = await p.acquire(A);
  const a2 = await p.acquire(A);
  const b1 = await p.acquire(B);
  let bServed = false;
  const waitingB = p.acquire(B).then((l) => ((bServed = true), l));
  a1.release(); // idle: B has a slot already and A only one more, so it lingers for A
  assert.equal(evicted.length, 0, 'not closed at once');
  const again = await p.acquire(A);
  assert.equal(again.client, a1.client, "A's own kept-alive socket, not a new one");
  assert.equal(bServed, false);
  again.release(); // now it lingers, then goes to B
  const b2 = await waitingB;
  assert.deepEqual(evicted, [a1.client], 'closed for B once it lingered');
  for (const l of [a2, b1, b2]) l.release();
  await p.close();
});

test('a host waiting for the total is served once an idle socket of another host lingered, with nothing else happening', { timeout: 5000 }, async () => {
  const { p, evicted } = quietPool(2, 0);
  const a1 = await p.acquire(A);
  const b1 = await p.acquire(B);
  const waitingB = p.acquire(B);
  const t0 = Date.now();
  a1.release(); // A: one slot, B: one slot, neither clearly fewer: A's socket lingers
  const b2 = await waitingB;
  assert.ok(Date.now() - t0 >= 3, 'not before it lingered');
  assert.deepEqual(evicted, [a1.client]);
  b1.release();
  b2.release();
  await p.close();
});
