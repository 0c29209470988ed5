// A downloaded file's time is the server's Last-Modified (wget's default, curl -R); --no-remote-time
// keeps the time of download. Small bodies (the writer thread), streamed ones and Content-Disposition
// names alike; --if-exists update goes on working from the records, or from that time without them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fetchAll } from './helpers/lib.js';
import { runCli } from './helpers/cli.js';
import { startFaultServer } from './helpers/faults.js';
import { tempDirs } from './helpers/tmp.js';
import { remoteTime } from '../src/transfer/commit.js';

const tmp = tempDirs('mtime');
const WHEN = 'Tue, 03 Mar 2020 04:05:06 GMT';
const WHEN_MS = Date.UTC(2020, 2, 3, 4, 5, 6);

test('Last-Modified read as a time: dates, nothing, garbage, before 1970', () => {
  assert.equal(remoteTime(WHEN), WHEN_MS / 1000);
  assert.equal(remoteTime('Sunday, 06-Nov-94 08:49:37 GMT'), Date.UTC(1994, 10, 6, 8, 49, 37) / 1000);
  for (const v of [undefined, '', 'yesterday', 'Thu, 01 Jan 1960 00:00:00 GMT']) assert.equal(remoteTime(v), -1, String(v));
});

test('files get the server\'s Last-Modified: small, streamed and Content-Disposition named', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const small = s.route('/small.bin', { size: 500 });
  const big = s.route('/big.bin', { size: 3 << 20 });
  const named = s.route('/dl', { size: 700, headers: { 'content-disposition': 'attachment; filename="report.pdf"' } });
  for (const r of [small, big, named]) r.lastModified = WHEN;
  const plain = s.route('/plain.bin', { size: 100 });
  plain.lastModified = 'not a date';
  const dest = tmp();
  const before = Date.now();
  const r = await fetchAll([s.url('/small.bin'), s.url('/big.bin'), s.url('/dl?id=1'), s.url('/plain.bin')], { dest, contentDisposition: true });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  for (const name of ['small.bin', 'big.bin', 'report.pdf']) assert.equal(statSync(path.join(dest, name)).mtimeMs, WHEN_MS, name);
  // A Last-Modified that is not a date: the time of download.
  assert.ok(statSync(path.join(dest, 'plain.bin')).mtimeMs >= before - 1000);
});

test('--no-remote-time keeps the time of download', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  s.route('/a.bin', { size: 500 }).lastModified = WHEN;
  s.route('/b.bin', { size: 1 << 20 }).lastModified = WHEN;
  const dest = tmp();
  const before = Date.now();
  const r = await runCli(['-q', '-d', dest, '--no-remote-time', s.url('/a.bin'), s.url('/b.bin')]);
  assert.equal(r.code, 0, r.stderr);
  for (const n of ['a.bin', 'b.bin']) assert.ok(statSync(path.join(dest, n)).mtimeMs >= before - 1000, n);
});

test('--if-exists update: unchanged from the records, and from the file\'s time without them', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  s.route('/u.bin', { size: 800 }).lastModified = WHEN;
  const dest = tmp();
  assert.equal((await runCli(['-q', '-d', dest, s.url('/u.bin')])).code, 0);
  const again = await runCli(['-q', '-d', dest, '--if-exists', 'update', '--report', '-', s.url('/u.bin')]);
  assert.equal(JSON.parse(again.stdout).counts.unchanged, 1);
  // The records gone (a copied folder): the file's time is the server's, so it still asks well.
  rmSync(path.join(dest, '.bulkget'), { recursive: true });
  const bare = await runCli(['-q', '-d', dest, '--if-exists', 'update', '--report', '-', s.url('/u.bin')]);
  assert.equal(JSON.parse(bare.stdout).counts.unchanged, 1);
  assert.equal(s.hits('/u.bin').at(-1)!.headers['if-modified-since'], WHEN);
});
