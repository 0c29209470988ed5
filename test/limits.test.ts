// The heart of the contract: connection limits as a server sees them, through the library (and the
// CLI for streamed stdin).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { spawnCli, collect } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { fetchAll } from './helpers/lib.js';
import { bodyFor, startServer, type Counter } from './helpers/server.js';

const tmp = tempDirs('limits');

test('--limit 5 --per-host 2 over 4 ports: the servers see exactly 5 and 2 at most', async (t) => {
  const group: Counter = { open: 0, peak: 0 };
  const servers = await Promise.all([0, 1, 2, 3].map(() => startServer({ group })));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const urls: string[] = [];
  for (let i = 0; i < 8; i++) for (const s of servers) urls.push(s.url(`/slow/p${s.port}-${i}.bin?ms=120&size=4000`));
  const dest = tmp();
  const r = await fetchAll(urls, { dest, limit: 5, perHost: 2 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(group.peak, 5);
  for (const s of servers) assert.ok(s.conns.peak <= 2, `port ${s.port}: ${s.conns.peak}`);
  assert.equal(Math.max(...servers.map((s) => s.conns.peak)), 2);
  assert.equal(readdirSync(dest).filter((f) => f.endsWith('.bin')).length, 32);
  const one = servers[0]!;
  assert.deepEqual(readFileSync(path.join(dest, `p${one.port}-3.bin`)), bodyFor(`p${one.port}-3.bin`, 4000));
  assert.equal(r.summary.counts.downloaded, 32);
});

test('--limit 3 while every URL of host A redirects to host B: the two servers together never see more than 3', async (t) => {
  // Each hop needs the other host's socket, so idle sockets are closed to make room all the time;
  // the server counts one until it has read the FIN. Without waiting for the server's side of
  // the close, the two counted 4 at once in 2 runs of 5 (300 URLs).
  const group: Counter = { open: 0, peak: 0 };
  const b = await startServer({ group });
  const a = await startServer({
    group,
    handler: (req, res) => {
      res.writeHead(302, { location: b.url(`/file${req.url}?size=500`), 'content-length': 0 });
      res.end();
    },
  });
  t.after(() => Promise.all([a.close(), b.close()]));
  const urls = Array.from({ length: 150 }, (_, i) => a.url(`/r${i}.bin`));
  for (let run = 0; run < 2; run++) {
    const r = await fetchAll(urls, { dest: tmp(), limit: 3 });
    assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
    assert.equal(r.summary.counts.downloaded, 150);
  }
  assert.ok(a.accepted + b.accepted > 4, `sockets were closed and opened (${a.accepted + b.accepted})`);
  assert.equal(group.peak, 3);
});

test('--limit 2 while every transfer is cut off by us (--max-filesize): the server never sees 3', async (t) => {
  // A socket we destroy is counted by the server until it has read our RST; the slot's next
  // socket could reach it first (and undici reconnected a destroyed socket by itself at once).
  const s = await startServer({
    handler: (_req, res) => {
      res.writeHead(200, { 'content-length': 1 << 20 });
      res.write(Buffer.alloc(512 << 10, 'z'));
    },
  });
  t.after(() => s.close());
  const urls = Array.from({ length: 40 }, (_, i) => s.url(`/big${i}.bin`));
  const r = await fetchAll(urls, { dest: tmp(), limit: 2, retries: 0, maxFilesize: 100 << 10 });
  assert.equal(r.summary.counts.failed, 40);
  assert.equal(s.accepted, 40, 'one socket per transfer, none opened for nothing');
  assert.equal(s.conns.peak, 2);
});

test('default --limit is 100: 150 slow URLs on one host see 100 connections', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const urls = Array.from({ length: 150 }, (_, i) => s.url(`/slow/d${i}?ms=400&size=100`));
  const r = await fetchAll(urls, { dest: tmp() });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(s.conns.peak, 100);
});

test('--limit 0 lets every request through at once', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const urls = Array.from({ length: 150 }, (_, i) => s.url(`/slow/z${i}?ms=600&size=100`));
  const r = await fetchAll(urls, { dest: tmp(), limit: 0 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(s.conns.peak, 150);
});

/** n URLs on host A, then n on host B, fetched with --limit 10 --per-host 2; how many of A's came before B's first. */
async function aThenB(t: { after: (fn: () => unknown) => void }, n: number, query: string) {
  const a = await startServer();
  const b = await startServer();
  t.after(() => Promise.all([a.close(), b.close()]));
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(a.url(`/file/a${i}?${query}`));
  for (let i = 0; i < n; i++) lines.push(b.url(`/file/b${i}?${query}`));
  const r = await fetchAll(lines, { dest: tmp(), limit: 10, perHost: 2 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const firstB = b.requests[0]!.at;
  return { a, b, r, aBefore: a.requests.filter((x) => x.at < firstB).length };
}

test('host A then host B: B is served long before A is half done (--limit 10 --per-host 2)', async (t) => {
  const { a, b, aBefore } = await aThenB(t, 300, 'size=50&delay=5');
  assert.ok(aBefore < 150, `A had ${aBefore} of 300 requests before B's first`);
  assert.ok(a.conns.peak <= 2 && b.conns.peak <= 2);
  // Within one host, work goes in input order.
  const aOrder = a.requests.map((x) => Number(/a(\d+)/.exec(x.url)![1]));
  const inversions = aOrder.filter((v, i) => i > 0 && v < aOrder[i - 1]!).length;
  assert.ok(inversions <= 2, `A requests out of order ${inversions} times`);
});

test('SPEC\'s example: 1,000 URLs on host A then 1,000 on host B with --limit 10 --per-host 2: both served from the start', { timeout: 60_000 }, async (t) => {
  const { a, b, r, aBefore } = await aThenB(t, 1000, 'size=20&delay=2');
  assert.equal(r.summary.counts.downloaded, 2000);
  // A fixed window of 512 items let B in only after ~490 of A's 1,000.
  assert.ok(aBefore < 100, `A had ${aBefore} of 1,000 requests before B's first`);
  assert.ok(a.conns.peak <= 2 && b.conns.peak <= 2);
});

test('stdin is streamed: the first request arrives before stdin is closed', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const child = spawnCli(['-d', tmp(), '--progress', 'none']);
  const done = collect(child);
  child.stdin!.write(s.url('/file/first.bin?size=10') + '\n');
  const t0 = Date.now();
  while (s.requests.length === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.requests.length, 1, 'the first URL was requested while stdin was still open');
  child.stdin!.end(s.url('/file/second.bin?size=10') + '\n');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.requests.length, 2);
  assert.match(r.stdout, /2 files downloaded/);
});
