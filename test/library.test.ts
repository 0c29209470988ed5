// bulkget as a library: download() with typed events, for-await results, stats, abort, a summary
// in the JSON report's shape; and none of the CLI's process-wide habits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BulkgetError, SetupError, UsageError, download, plan, type ItemResult, type Stats } from '../src/index.js';
import { bodyFor, startServer, type Counter } from './helpers/server.js';
import { tempDirs } from './helpers/tmp.js';
import { ROOT, TSX, collect } from './helpers/cli.js';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const tmp = tempDirs('lib');

test('an array of URLs: results as each item ends, a summary in the JSON report shape, the files', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dest = tmp();
  const urls = [s.url('/file/a.bin?size=3000'), s.url('/file/b.bin?size=5'), s.url('/status/404')];
  const dl = download(urls, { dest, limit: 8 });
  const seen: ItemResult[] = [];
  for await (const r of dl) seen.push(r);
  const summary = await dl.done;
  assert.deepEqual(seen.map((r) => [new URL(r.url).pathname, r.outcome]).sort(), [
    ['/file/a.bin', 'downloaded'],
    ['/file/b.bin', 'downloaded'],
    ['/status/404', 'notFound'],
  ]);
  assert.equal(seen.find((r) => r.out === 'a.bin')!.bytes, 3000);
  assert.deepEqual(readFileSync(path.join(dest, 'a.bin')), bodyFor('a.bin', 3000));
  assert.deepEqual(Object.keys(summary), ['version', 'startedAt', 'elapsedMs', 'limits', 'counts', 'bytes', 'retries', 'failures', 'hosts', 'failuresLeftOut', 'interrupted']);
  assert.equal(summary.hosts.length, 1);
  assert.equal(summary.hosts[0]!.items, 3);
  assert.equal(summary.hosts[0]!.downloaded, 2);
  assert.equal(summary.hosts[0]!.failed, 1);
  assert.deepEqual(summary.counts, { downloaded: 2, unchanged: 0, skipped: 0, notFound: 1, failed: 0, invalid: 0 });
  assert.deepEqual(summary.limits, { total: 8, perHost: 0 });
  assert.equal(summary.interrupted, false);
  assert.deepEqual(summary.failures, [{ url: urls[2], status: 404, error: 'HTTP 404', attempts: 1, kind: 'notFound' }]);
  assert.equal(dl.stats.downloaded, 2);
});

test('items as objects and lines, from an AsyncIterable read from a file; an AbortSignal stops it', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dir = tmp();
  const list = path.join(dir, 'urls.txt');
  const lines = Array.from({ length: 40 }, (_, i) => s.url(`/slow/s${i}.bin?ms=300&size=100`));
  writeFileSync(list, lines.join('\n') + '\n');
  const rl = createInterface({ input: createReadStream(list), crlfDelay: Infinity });
  const ac = new AbortController();
  const dl = download(rl, { dest: path.join(dir, 'out'), limit: 4, signal: ac.signal });
  let first = true;
  dl.on('result', () => {
    if (first) ac.abort();
    first = false;
  });
  const summary = await dl.done;
  assert.equal(summary.interrupted, true);
  assert.ok(summary.counts.downloaded < 40, `${summary.counts.downloaded} downloaded before the abort took`);
  assert.ok(s.requests.length < 40, `${s.requests.length} requests`);

  // Objects: an output path, a checksum that holds and one that does not.
  const body = bodyFor('obj.bin', 64);
  const sha = (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
  const objects = download(
    [
      { url: s.url('/file/obj.bin?size=64'), out: 'sub/named.bin', sha256: sha },
      { url: s.url('/file/bad.bin?size=64'), sha256: 'f'.repeat(64) },
      `${s.url('/file/line.bin?size=10')} from-a-line.bin`,
      'not a url',
    ],
    { dest: path.join(dir, 'objects') },
  );
  const invalid: string[] = [];
  objects.on('invalid', (inv) => invalid.push(`${inv.source}:${inv.line} ${inv.reason}`));
  const sum = await objects.done;
  assert.deepEqual(sum.counts, { downloaded: 2, unchanged: 0, skipped: 0, notFound: 0, failed: 1, invalid: 1 });
  assert.deepEqual(readFileSync(path.join(dir, 'objects', 'sub', 'named.bin')), body);
  assert.equal(readFileSync(path.join(dir, 'objects', 'from-a-line.bin')).length, 10);
  assert.deepEqual(invalid, ['items:4 not an absolute http(s) URL']);
  assert.match(sum.failures.find((f) => f.kind === 'failed')!.error, /sha256 mismatch/);
});

test('progress events carry the live counters; stats and abort() are there too', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const urls = Array.from({ length: 20 }, (_, i) => s.url(`/slow/p${i}.bin?ms=150&size=1000`));
  const dl = download(urls, { dest: tmp(), limit: 5, progressInterval: 50 });
  const snaps: Array<Pick<Stats, 'queued' | 'downloaded' | 'active' | 'bytes'>> = [];
  dl.on('progress', (st) => snaps.push({ queued: st.queued, downloaded: st.downloaded, active: st.active, bytes: st.bytes }));
  const queued: string[] = [];
  dl.on('queued', (item) => queued.push(item.out));
  let total = -1;
  dl.on('input-end', (n) => (total = n));
  await dl.done;
  assert.ok(snaps.length >= 3, `${snaps.length} progress events`);
  assert.ok(snaps.some((x) => x.active > 0 && x.active <= 5));
  for (let i = 1; i < snaps.length; i++) assert.ok(snaps[i]!.downloaded >= snaps[i - 1]!.downloaded, 'counters only grow');
  assert.equal(queued.length, 20);
  assert.equal(total, 20);

  const stopped = download([s.url('/slow/x.bin?ms=2000&size=10')], { dest: tmp() });
  setTimeout(() => stopped.abort(), 100);
  const sum = await stopped.done;
  assert.equal(sum.interrupted, true);
  assert.equal(sum.counts.downloaded, 0);
});

test('two downloads at once in one process share no budget and no counter', async (t) => {
  const groupA: Counter = { open: 0, peak: 0 };
  const groupB: Counter = { open: 0, peak: 0 };
  const a = await startServer({ group: groupA });
  const b = await startServer({ group: groupB });
  t.after(() => Promise.all([a.close(), b.close()]));
  const one = download(Array.from({ length: 12 }, (_, i) => a.url(`/slow/a${i}?ms=150&size=10`)), { dest: tmp(), limit: 2 });
  const two = download(Array.from({ length: 12 }, (_, i) => b.url(`/slow/b${i}?ms=150&size=20`)), { dest: tmp(), limit: 3 });
  const [s1, s2] = await Promise.all([one.done, two.done]);
  assert.equal(groupA.peak, 2);
  assert.equal(groupB.peak, 3);
  assert.equal(s1.counts.downloaded, 12);
  assert.equal(s2.counts.downloaded, 12);
  assert.equal(s1.bytes, 120);
  assert.equal(s2.bytes, 240);
});

test('a run that cannot start rejects done (and ends every reader) with a BulkgetError; bad options throw at once', async () => {
  const dir = tmp();
  writeFileSync(path.join(dir, 'file'), 'x');
  const dl = download(['http://127.0.0.2:9/x'], { dest: path.join(dir, 'file', 'sub') });
  await assert.rejects(dl.done, (err: unknown) => err instanceof SetupError && err.exitCode === 2 && /cannot write to DEST/.test(err.message));
  await assert.rejects(async () => {
    for await (const r of dl) void r;
  }, SetupError);
  assert.throws(() => download([], { limit: -1 }), (err: unknown) => err instanceof UsageError && err instanceof BulkgetError && err.exitCode === 2);
  assert.throws(() => download([], { shard: '4/4' }), /--shard must be K\/N/);
  assert.throws(() => download([], { headers: { 'x-a': 'one\r\ntwo' } }), UsageError);
});

test('the library prints nothing, traps no signal, adds no process listener, sets no V8 flag', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dir = tmp();
  // In a process of its own, whose stdout and stderr are all the library could write to.
  const script = `
    import { writeFileSync } from 'node:fs';
    import v8 from 'node:v8';
    import { download } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/index.ts')).href)};
    const events = ['SIGINT', 'SIGTERM', 'exit', 'beforeExit', 'uncaughtException', 'warning'];
    const count = () => events.map((e) => process.listenerCount(e));
    const before = count();
    let during;
    const dl = download([process.argv[1], process.argv[2], 'bad line'], { dest: process.argv[3], retries: 0 });
    dl.on('queued', () => (during = count()));
    const summary = await dl.done;
    // --expose-gc is the flag the CLI sets to force collections: the library must not.
    writeFileSync(process.argv[4], JSON.stringify({ before, during, after: count(), counts: summary.counts, failures: summary.failures, gc: typeof globalThis.gc }));
  `;
  const out = path.join(dir, 'out.json');
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script, s.url('/file/q.bin?size=10'), s.url('/status/500'), path.join(dir, 'dest'), out], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
  const got = JSON.parse(readFileSync(out, 'utf8')) as { before: number[]; during: number[]; after: number[]; counts: Record<string, number>; gc: string };
  assert.deepEqual(got.counts, { downloaded: 1, unchanged: 0, skipped: 0, notFound: 0, failed: 1, invalid: 1 }, JSON.stringify(got));
  assert.deepEqual(got.during, got.before);
  assert.deepEqual(got.after, got.before);
  assert.equal(got.gc, 'undefined');
});

test('a slow for-await reader holds new items back instead of piling results up', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const urls = Array.from({ length: 3000 }, (_, i) => s.url(`/file/r${i}?size=10`));
  const dl = download(urls, { dest: tmp(), limit: 16 });
  let n = 0;
  let maxAhead = 0;
  for await (const r of dl) {
    void r;
    n++;
    // Finished but not yet read: bounded by the reader's backlog plus the items in flight.
    maxAhead = Math.max(maxAhead, dl.stats.downloaded - n);
    if (n % 100 === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(n, 3000);
  assert.ok(maxAhead <= 1024 + 600, `${maxAhead} results waited for the reader`);
});

test('plan(): every item with its final name, invalid lines, no request', async () => {
  const got = [];
  for await (const p of plan(['http://h.example/a/x.bin', 'http://h.example/b/x.bin', 'nope'], { dest: 'out' })) got.push('item' in p ? p.item.out : `invalid: ${p.invalid.reason}`);
  assert.deepEqual(got, ['x.bin', 'x-1.bin', 'invalid: not an absolute http(s) URL']);
});

test('plan(): a fragment is not part of the URL: `a#x`, `a#` and `a` are one item, sent without it', async () => {
  const got = [];
  for await (const p of plan(['http://h.example/a#x', 'http://h.example/a#', 'http://h.example/a', 'http://h.example/b#', 'http://h.example/c?q=1#f'], { dest: 'out' })) if ('item' in p) got.push(`${p.item.url.href} ${p.item.out}`);
  assert.deepEqual(got, ['http://h.example/a a', 'http://h.example/b b', 'http://h.example/c?q=1 c']);
});
