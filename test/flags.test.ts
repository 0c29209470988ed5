// `bulkget flags` end to end: the embedded server, the serve command's ERROR mode, limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { ROOT, collect, runCli, spawnCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { startServer, sleep } from './helpers/server.js';

const tmp = tempDirs('flags');
const fixture = (cc: string) => readFileSync(path.join(ROOT, 'fixtures/flags', `${cc}.gif`));
const POP20 = 'CN IN US ID BR PK NG BD RU JP MX PH VN ET EG DE IR TR CD FR'.split(' ');

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test('bulkget flags: the 20 most populous from the embedded server, bytes equal the fixtures', async () => {
  const dest = tmp();
  const r = await runCli(['flags', '-d', dest, '--progress', 'none']);
  assert.equal(r.code, 0, r.stderr);
  const files = readdirSync(dest).filter((f) => f.endsWith('.gif')).sort();
  assert.deepEqual(files, POP20.map((c) => `${c.toLowerCase()}.gif`).sort());
  for (const f of files) assert.deepEqual(readFileSync(path.join(dest, f)), fixture(f.slice(0, 2)), f);
  assert.match(r.stdout, /^-{20}\n20 flags downloaded \(\d[\d.]* kB\)\.\nElapsed time: [\d.]+s \([\d.]+ flags\/s, [\d.]+ [kM]?B\/s\)\n$/);
});

test('flags -e -n 30: not-found codes are reported but do not fail the run', async () => {
  const dest = tmp();
  const r = await runCli(['flags', '-e', '-n', '30', '-d', dest, '--progress', 'none', '-v']);
  assert.equal(r.code, 0, r.stderr);
  const got = readdirSync(dest).filter((f) => f.endsWith('.gif'));
  const bundled = readFileSync(path.join(ROOT, 'fixtures/country_codes.txt'), 'utf8').split(/\s+/).filter(Boolean);
  const expected = bundled.filter((c) => c < 'BE').map((c) => `${c.toLowerCase()}.gif`);
  assert.deepEqual(got.sort(), expected.sort());
  const notFound = 30 - expected.length;
  assert.match(r.stdout, new RegExp(`${expected.length} flags downloaded`));
  assert.match(r.stdout, new RegExp(`${notFound} not found\\.`));
  assert.match(r.stderr, /AA not found/);
  assert.match(r.stderr, /AD OK/);
});

test('flags: bad codes and conflicts are usage errors with the exact message', async () => {
  for (const args of [['XYZ'], ['1'], ['c', 'U2']]) {
    const r = await runCli(['flags', ...args, '-d', tmp()]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /each CC argument must be A to Z or AA to ZZ/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  const c = await runCli(['flags', '-a', '-e', '-d', tmp()]);
  assert.equal(c.code, 2);
});

test('flags -l 3 against a delayed server runs exactly three at a time', async (t) => {
  const s = await startServer({
    handler: async (req, res) => {
      await sleep(150);
      const cc = /\/(\w\w)\.gif$/.exec(req.url ?? '')?.[1] ?? 'xx';
      try {
        const body = fixture(cc);
        res.writeHead(200, { 'content-type': 'image/gif', 'content-length': body.length });
        res.end(body);
      } catch {
        res.writeHead(404);
        res.end();
      }
    },
  });
  t.after(() => s.close());
  const dest = tmp();
  const r = await runCli(['flags', '-s', `${s.origin}/flags`, '-l', '3', '-d', dest, '--progress', 'none']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.conns.peak, 3);
  assert.equal(s.requests.length, 20);
  assert.ok(s.requests.every((q) => /^\/flags\/([a-z]{2})\/\1\.gif$/.test(q.url)), 'URL shape {base}/{cc}/{cc}.gif');
});

test('against `bulkget serve` in ERROR mode: retries make every flag correct; --retries 0 fails', async (t) => {
  const port = await freePort();
  const server = spawnCli(['serve', '--only', 'error', '--error-port', String(port), '--error-rate', '0.25', '--seed', '7']);
  const serverDone = collect(server);
  t.after(async () => {
    server.kill('SIGINT');
    await serverDone;
  });
  // Wait for the listener.
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    up = await fetch(`http://127.0.0.1:${port}/flags/cn/cn.gif`).then(() => true, () => false);
    if (!up) await sleep(100);
  }
  assert.ok(up, 'serve started');
  const base = `http://127.0.0.1:${port}/flags`;

  const dest = tmp();
  const ok = await runCli(['flags', '-a', '-s', base, '-r', '10', '--retry-delay', '20ms', '-d', dest, '--progress', 'none', '--report', path.join(dest, 'r.json')]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const files = readdirSync(dest).filter((f) => f.endsWith('.gif'));
  assert.equal(files.length, 241);
  for (const f of files) assert.deepEqual(readFileSync(path.join(dest, f)), fixture(f.slice(0, 2)), f);
  const report = JSON.parse(readFileSync(path.join(dest, 'r.json'), 'utf8'));
  assert.equal(report.counts.downloaded, 241);
  assert.ok(report.retries > 0, 'faults were met and retried');

  const dest2 = tmp();
  const bad = await runCli(['flags', '-a', '-s', base, '-r', '0', '-d', dest2, '--progress', 'none']);
  assert.equal(bad.code, 1);
  const m = /(\d+) errors?\./.exec(bad.stdout);
  assert.ok(m && Number(m[1]) > 0, bad.stdout);
  const got = readdirSync(dest2).filter((f) => f.endsWith('.gif'));
  assert.equal(got.length + Number(m![1]), 241);
  for (const f of got) assert.deepEqual(readFileSync(path.join(dest2, f)), fixture(f.slice(0, 2)), f);
});
