// --if-exists policies by counting server requests, integrity checks that must leave nothing
// behind, and the one-run-per-DEST lock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { collect, runCli, spawnCli } from './helpers/cli.js';
import { startFaultServer, type FaultServer } from './helpers/faults.js';
import { sleep } from './helpers/server.js';
import { fetchAll, lines } from './helpers/lib.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('policies');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');



async function server(t: { after: (fn: () => Promise<void>) => void }): Promise<FaultServer> {
  const s = await startFaultServer();
  t.after(() => s.close());
  return s;
}

/** Only the final files and .part files in DEST (its own records left out). */
const files = (dest: string) => readdirSync(dest).filter((f) => f !== '.bulkget').sort();

test('skip (the default) makes no request for a file already present', async (t) => {
  const s = await server(t);
  s.route('/have.bin');
  const fresh = s.route('/new.bin');
  const dest = tmp();
  writeFileSync(path.join(dest, 'have.bin'), 'mine');
  const r = await fetchAll(lines([s.url('/have.bin'), s.url('/new.bin')].join('\n')), { dest });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(r.summary.counts.skipped, 1);
  assert.equal(r.summary.counts.downloaded, 1);
  assert.equal(s.hits('/have.bin').length, 0);
  assert.equal(readFileSync(path.join(dest, 'have.bin'), 'utf8'), 'mine');
  assert.deepEqual(readFileSync(path.join(dest, 'new.bin')), fresh.body);
});

test('update: If-None-Match and If-Modified-Since from the last download; 304 is unchanged, the file untouched', async (t) => {
  const s = await server(t);
  const route = s.route('/u.bin', { size: 5000 });
  const dest = tmp();
  const first = await fetchAll(lines(s.url('/u.bin')), { dest });
  assert.equal(first.code, 0, JSON.stringify(first.summary.failures));
  const file = path.join(dest, 'u.bin');
  const old = new Date('2020-01-02T03:04:05Z');
  utimesSync(file, old, old);

  const r = await fetchAll(lines(s.url('/u.bin')), { dest, ifExists: 'update' });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hit = s.hits('/u.bin').at(-1)!;
  assert.equal(hit.headers['if-none-match'], route.etag);
  assert.equal(hit.headers['if-modified-since'], route.lastModified);
  assert.equal(hit.answer, '304');
  assert.equal(r.summary.counts.unchanged, 1);
  assert.equal(r.summary.counts.downloaded, 0);
  assert.equal(statSync(file).mtimeMs, old.getTime(), 'mtime untouched');
  assert.deepEqual(readFileSync(file), route.body);
  assert.deepEqual(files(dest), ['u.bin']);

  // The text report says so too.
  const text = await runCli(['-d', dest, '--if-exists', 'update', '--progress', 'none', s.url('/u.bin')]);
  assert.match(text.stdout, /1 unchanged \(not modified\)\./);
});

test('update downloads a file that changed on the server', async (t) => {
  const s = await server(t);
  const route = s.route('/c.bin', { size: 5000 });
  const dest = tmp();
  assert.equal((await fetchAll(lines(s.url('/c.bin')), { dest })).code, 0);
  const oldEtag = route.etag;
  route.change();
  const r = await fetchAll(lines(s.url('/c.bin')), { dest, ifExists: 'update' });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hit = s.hits('/c.bin').at(-1)!;
  assert.equal(hit.headers['if-none-match'], oldEtag);
  assert.equal(hit.answer, '200');
  assert.equal(r.summary.counts.downloaded, 1);
  assert.deepEqual(readFileSync(path.join(dest, 'c.bin')), route.body);

  // The next update knows the new validators.
  const again = await fetchAll(lines(s.url('/c.bin')), { dest, ifExists: 'update' });
  assert.equal(s.hits('/c.bin').at(-1)!.headers['if-none-match'], route.etag);
  assert.equal(again.summary.counts.unchanged, 1);
});

test('update of a file cut short or changed by hand since bulkget wrote it: fetched whole, not kept on a 304', async (t) => {
  const s = await server(t);
  const route = s.route('/cut.bin', { size: 5000 });
  const other = s.route('/other.bin', { size: 3000 });
  const dest = tmp();
  assert.equal((await fetchAll([s.url('/cut.bin'), s.url('/other.bin')], { dest })).code, 0);
  const file = path.join(dest, 'cut.bin');
  truncateSync(file, 10);
  // The same name now comes from another URL: the record of the first one asks nothing of it.
  const r = await fetchAll([s.url('/cut.bin'), `${s.url('/other.bin?v=2')} other.bin`], { dest, ifExists: 'update' });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hit = s.hits('/cut.bin').at(-1)!;
  assert.equal(hit.headers['if-none-match'], undefined, 'no condition for a file that is not the one recorded');
  assert.equal(hit.answer, '200');
  assert.deepEqual(readFileSync(file), route.body);
  const moved = s.hits('/other.bin').at(-1)!;
  assert.equal(moved.headers['if-none-match'], undefined, "not the validator of another URL's download");
  assert.deepEqual(readFileSync(path.join(dest, 'other.bin')), other.body);
  // Whole again: the next update is conditional and unchanged.
  const again = await fetchAll(lines(s.url('/cut.bin')), { dest, ifExists: 'update' });
  assert.equal(s.hits('/cut.bin').at(-1)!.headers['if-none-match'], route.etag);
  assert.equal(again.summary.counts.unchanged, 1);
});

test('update of a file bulkget did not download: If-Modified-Since from its mtime', async (t) => {
  const s = await server(t);
  const route = s.route('/hand.bin');
  const dest = tmp();
  const file = path.join(dest, 'hand.bin');
  writeFileSync(file, 'by hand');
  const newer = new Date(Date.parse(route.lastModified) + 60_000);
  utimesSync(file, newer, newer);
  const r = await fetchAll(lines(s.url('/hand.bin')), { dest, ifExists: 'update' });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hit = s.hits('/hand.bin')[0]!;
  assert.equal(hit.headers['if-none-match'], undefined);
  assert.equal(hit.headers['if-modified-since'], newer.toUTCString());
  assert.equal(r.summary.counts.unchanged, 1);
  assert.equal(readFileSync(file, 'utf8'), 'by hand');
});

test('overwrite always requests, without conditions, and replaces the file', async (t) => {
  const s = await server(t);
  const route = s.route('/o.bin');
  const dest = tmp();
  writeFileSync(path.join(dest, 'o.bin'), 'stale');
  for (let i = 0; i < 2; i++) {
    const r = await fetchAll(lines(s.url('/o.bin')), { dest, ifExists: 'overwrite' });
    assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
    assert.equal(r.summary.counts.downloaded, 1);
  }
  const hits = s.hits('/o.bin');
  assert.equal(hits.length, 2);
  for (const h of hits) {
    assert.equal(h.headers['if-none-match'], undefined);
    assert.equal(h.headers['if-modified-since'], undefined);
    assert.equal(h.answer, '200');
  }
  assert.deepEqual(readFileSync(path.join(dest, 'o.bin')), route.body);
});

test('sha256 and size are verified before the rename: a mismatch leaves no final file and no .part', async (t) => {
  const s = await server(t);
  const good = s.route('/good.bin', { size: 3000 });
  const badSha = s.route('/badsha.bin', { size: 3000 });
  s.route('/badsize.bin', { size: 3000 });
  s.route('/badsize-chunked.bin', { size: 3000, noLength: true });
  const dest = tmp();
  const lines = [
    JSON.stringify({ url: s.url('/good.bin'), sha256: good.sha256(), size: 3000 }),
    JSON.stringify({ url: s.url('/badsha.bin'), sha256: sha256('something else') }),
    JSON.stringify({ url: s.url('/badsize.bin'), size: 2999 }),
    JSON.stringify({ url: s.url('/badsize-chunked.bin'), size: 3001 }),
  ];
  const r = await fetchAll(lines, { dest, retries: 0 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.downloaded, 1);
  assert.equal(r.summary.counts.failed, 3);
  const errors = Object.fromEntries(r.summary.failures.map((f) => [new URL(f.url).pathname, f.error]));
  assert.match(errors['/badsha.bin']!, /sha256 mismatch/);
  assert.match(errors['/badsize.bin']!, /size mismatch/);
  assert.match(errors['/badsize-chunked.bin']!, /size mismatch/);
  assert.deepEqual(files(dest), ['good.bin']);
  assert.deepEqual(readFileSync(path.join(dest, 'good.bin')), good.body);
  assert.ok(badSha);
});

test('--max-filesize fails a file larger than SIZE, announced or not, keeping nothing', async (t) => {
  const s = await server(t);
  s.route('/announced.bin', { size: 3000 });
  s.route('/chunked.bin', { size: 300_000, noLength: true });
  const small = s.route('/small.bin', { size: 1024 });
  const dest = tmp();
  const r = await fetchAll(lines(['/announced.bin', '/chunked.bin', '/small.bin'].map((p) => s.url(p)).join('\n')), { dest, maxFilesize: 1024, retries: 0 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.failed, 2);
  for (const f of r.summary.failures) assert.match(f.error, /max-filesize/);
  assert.deepEqual(files(dest), ['small.bin']);
  assert.deepEqual(readFileSync(path.join(dest, 'small.bin')), small.body);
});

test('one run per DEST: a second concurrent run exits 2 naming the pid, and makes no request', async (t) => {
  const s = await server(t);
  // Trickles (a KiB every 100 ms, well inside the idle timeout) until the test lifts the
  // throttle, so the first run is surely still going while the second one starts, however slow.
  const slow = s.route('/slow.bin', { size: 1 << 20, throttle: { bytes: 1024, everyMs: 100 } });
  s.route('/other.bin');
  const dest = tmp();
  const first = spawnCli(['-d', dest, '--progress', 'none', s.url('/slow.bin')]);
  const firstDone = collect(first);
  first.stdin!.end();
  const t0 = Date.now();
  while (s.hits('/slow.bin').length === 0 && Date.now() - t0 < 10_000) await sleep(10);
  const second = await runCli(['-d', dest, '--progress', 'none', s.url('/other.bin')]);
  assert.equal(second.code, 2, second.stdout + second.stderr);
  assert.match(second.stderr, new RegExp(`is in use by bulkget pid ${first.pid}`));
  assert.equal(second.stderr.trim().split('\n').length, 1, 'one line');
  assert.equal(s.hits('/other.bin').length, 0);
  slow.throttle = undefined;
  const r1 = await firstDone;
  assert.equal(r1.code, 0, r1.stderr);
  assert.ok(!existsSync(path.join(dest, '.bulkget', 'lock')), 'released at the end');
});

test('a lock left by a dead process is taken over silently', async (t) => {
  const s = await server(t);
  const route = s.route('/x.bin');
  const dest = tmp();
  const dead = spawnSync(process.execPath, ['-e', '']);
  assert.ok(dead.pid);
  mkdirSync(path.join(dest, '.bulkget'), { recursive: true });
  writeFileSync(path.join(dest, '.bulkget', 'lock'), `${dead.pid}\n`);
  const r = await runCli(['-d', dest, '--progress', 'none', s.url('/x.bin')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(readFileSync(path.join(dest, 'x.bin')), route.body);
  assert.ok(!existsSync(path.join(dest, '.bulkget', 'lock')));
});
