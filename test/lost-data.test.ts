// Nothing lost: bodies cut short the way real servers cut them (raw sockets: FIN or RST mid-body,
// a chunked body that stops early), partial files that never take an item's name, and server
// names (Content-Disposition) that never replace a file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, runWithReport } from './helpers/cli.js';
import { startRawServer, type RawAction, type RawServer } from './helpers/raw.js';
import { startFaultServer } from './helpers/faults.js';
import { partialOf, tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('lost');

async function raw(t: { after: (fn: () => Promise<void>) => void }): Promise<RawServer> {
  const s = await startRawServer();
  t.after(() => s.close());
  return s;
}

/** DEST's entries, bulkget's own folder left out. */
function files(dest: string): string[] {
  return readdirSync(dest).filter((n) => n !== '.bulkget').sort();
}

function partials(dest: string): string[] {
  const dir = path.join(dest, '.bulkget', 'partial');
  return existsSync(dir) ? readdirSync(dir) : [];
}

const CUTS: Array<{ name: string; action: (cut: number) => RawAction }> = [
  { name: 'FIN after part of the body, Connection: close', action: (cut) => ({ cut, how: 'fin', connectionClose: true }) },
  { name: 'FIN after part of the body, keep-alive', action: (cut) => ({ cut, how: 'fin' }) },
  { name: 'RST after part of the body', action: (cut) => ({ cut, how: 'rst' }) },
  { name: 'chunked body that stops before its last chunk', action: (cut) => ({ chunkedCut: cut }) },
];

for (const size of [65_536, 4 << 20]) {
  for (const c of CUTS) {
    test(`${size} bytes, ${c.name}: retried, continued with Range + If-Range, file whole`, async (t) => {
      const s = await raw(t);
      const cut = size === 65_536 ? 20_480 : 1 << 20;
      const f = s.file('/f.bin', { size, script: [c.action(cut)] });
      const dest = tmp();
      const r = await runWithReport(['-d', dest, '--retry-delay', '10ms', s.url('/f.bin')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.report.counts.downloaded, 1);
      assert.equal(r.report.retries, 1);
      const hits = s.hits('/f.bin');
      assert.equal(hits.length, 2);
      assert.equal(hits[0]!.headers['range'], undefined);
      assert.equal(hits[1]!.headers['range'], `bytes=${cut}-`, 'only the missing bytes are asked for');
      assert.equal(hits[1]!.headers['if-range'], f.etag);
      assert.deepEqual(readFileSync(path.join(dest, 'f.bin')), f.body);
      assert.deepEqual(partials(dest), []);
    });
  }
}

test('a body cut short with no validator is fetched again whole, never glued', async (t) => {
  const s = await raw(t);
  const f = s.file('/nv.bin', { size: 300_000, etag: undefined, lastModified: undefined, script: [{ cut: 100_000, how: 'fin', connectionClose: true }] });
  const w = s.file('/weak.bin', { size: 50_000, etag: 'W/"weak"', lastModified: undefined, script: [{ cut: 10_000, how: 'rst' }] });
  const dest = tmp();
  const r = await runWithReport(['-d', dest, '--retry-delay', '10ms', s.url('/nv.bin'), s.url('/weak.bin')]);
  assert.equal(r.code, 0, r.stderr);
  for (const [p, file] of [['/nv.bin', f], ['/weak.bin', w]] as const) {
    const hits = s.hits(p);
    assert.equal(hits.length, 2, p);
    assert.equal(hits[1]!.headers['range'], undefined, `${p}: a weak or missing validator cannot guard a range`);
    assert.deepEqual(readFileSync(path.join(dest, p.slice(1))), file.body, p);
  }
});

test('cut short on every attempt: failed with a clear reason, no file under the final name, the partial resumes next run', async (t) => {
  const s = await raw(t);
  const f = s.file('/cut.bin', { size: 65_536, script: [{ cut: 20_480, how: 'fin', connectionClose: true }] });
  const dest = tmp();
  const r = await runWithReport(['-d', dest, '-r', '0', s.url('/cut.bin')]);
  assert.equal(r.code, 1);
  assert.equal(r.report.counts.failed, 1);
  assert.match(r.report.failures[0]!.error, /cut short/);
  assert.ok(!existsSync(path.join(dest, 'cut.bin')), 'no truncated file under the final name');
  assert.equal(readFileSync(partialOf(dest, 'cut.bin')).length, 20_480);

  const again = await runWithReport(['-d', dest, s.url('/cut.bin')]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(s.hits('/cut.bin')[1]!.headers['range'], 'bytes=20480-');
  assert.deepEqual(readFileSync(path.join(dest, 'cut.bin')), f.body);
});

test('x and x.part in one run: both files whole, neither replaces the other', async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  // x is big and slow, so its partial file exists while x.part is downloaded and committed.
  const big = s.route('/big/x', { size: 8 << 20, throttle: { bytes: 512 << 10, everyMs: 20 } });
  const small = s.route('/x.part', { size: 16 });
  const dest = tmp();
  const r = await runWithReport(['-d', dest], { stdin: `${s.url('/big/x')}\n${s.url('/x.part')}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(files(dest), ['x', 'x.part']);
  assert.deepEqual(readFileSync(path.join(dest, 'x')), big.body);
  assert.deepEqual(readFileSync(path.join(dest, 'x.part')), small.body);
});

test('across runs: a downloaded x.part survives a later run that fetches x, and the other way round', async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const small = s.route('/x.part', { size: 16 });
  const big = s.route('/x', { size: 3 << 20 });
  const dest = tmp();
  assert.equal((await runWithReport(['-d', dest, s.url('/x.part')])).code, 0);
  const r = await runWithReport(['-d', dest, s.url('/x')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(path.join(dest, 'x.part')), small.body);
  assert.deepEqual(readFileSync(path.join(dest, 'x')), big.body);
  // A file of the user's called y.part is not taken for an interrupted y either.
  writeFileSync(path.join(dest, 'y.part'), 'mine');
  s.route('/y', { size: 5000 });
  assert.equal((await runWithReport(['-d', dest, s.url('/y')])).code, 0);
  assert.equal(readFileSync(path.join(dest, 'y.part'), 'utf8'), 'mine');
  assert.equal(s.hits('/y')[0]!.headers.range, undefined);
});

test('--content-disposition never replaces a file from before the run or one another item holds', async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const cd = { 'content-disposition': 'attachment; filename="important.txt"' };
  const a = s.route('/a', { size: 100, headers: cd });
  const b = s.route('/b', { size: 200, headers: cd });
  const c = s.route('/important.txt', { size: 300 });
  const dest = tmp();
  mkdirSync(dest, { recursive: true });
  writeFileSync(path.join(dest, 'important.txt'), 'the user\'s own file');
  const list = [s.url('/a'), s.url('/b'), s.url('/important.txt')].join('\n');
  const r = await runWithReport(['-d', dest, '--content-disposition', '-l', '1'], { stdin: list });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(dest, 'important.txt'), 'utf8'), 'the user\'s own file');
  // The URL-named item skips the file that is there (--if-exists skip); the two server-named
  // ones get the next free suffixes, and both survive.
  assert.equal(r.report.counts.skipped, 1);
  assert.equal(r.report.counts.downloaded, 2);
  const got = files(dest).filter((n) => n !== 'important.txt').map((n) => readFileSync(path.join(dest, n)));
  assert.equal(got.length, 2, files(dest).join(' '));
  assert.deepEqual(new Set(got.map((b) => b.length)), new Set([a.body.length, b.body.length]));
  void c;

  // Again: still nothing replaced, two more copies under new names.
  const again = await runWithReport(['-d', dest, '--content-disposition', '--if-exists', 'overwrite'], { stdin: `${s.url('/a')}\n` });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(readFileSync(path.join(dest, 'important.txt'), 'utf8'), 'the user\'s own file');
  assert.equal(files(dest).length, 4);
  assert.deepEqual(partials(dest), []);
});

test('two URLs that differ only late in the query are both kept (dry run lists both)', async () => {
  const r = await runCli(['--dry-run', '-d', 'out'], { stdin: 'http://h.example/download?id=1\nhttp://h.example/download?id=16889927\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'http://h.example/download?id=1 -> out/download',
    'http://h.example/download?id=16889927 -> out/download-1',
  ]);
});
