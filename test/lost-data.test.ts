// Nothing lost: bodies cut short the way real servers cut them (raw sockets: FIN or RST mid-body,
// a chunked body that stops early), partial files that never take an item's name, server names
// (Content-Disposition) that never replace a file; through the library, and through the CLI where
// the CLI is what is tested (a full disk, outputs that are inputs, the report file, escaping).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, TSX, collect, runCli } from './helpers/cli.js';
import { startRawServer, type RawAction, type RawServer } from './helpers/raw.js';
import { startFaultServer } from './helpers/faults.js';
import { fetchAll, lines } from './helpers/lib.js';
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
      const r = await fetchAll([s.url('/f.bin')], { dest, retryDelay: 10 });
      assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
      assert.equal(r.summary.counts.downloaded, 1);
      assert.equal(r.summary.retries, 1);
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
  const r = await fetchAll([s.url('/nv.bin'), s.url('/weak.bin')], { dest, retryDelay: 10 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  for (const [p, file] of [['/nv.bin', f], ['/weak.bin', w]] as const) {
    const hits = s.hits(p);
    assert.equal(hits.length, 2, p);
    assert.equal(hits[1]!.headers['range'], undefined, `${p}: a weak or missing validator cannot guard a range`);
    assert.deepEqual(readFileSync(path.join(dest, p.slice(1))), file.body, p);
  }
});

test('cut short on every attempt with no validator: failed, and no partial is left that no run could continue', async (t) => {
  const s = await raw(t);
  const cutEvery = (a: RawAction): RawAction[] => [a, a, a];
  // Chunked, Content-Length, and the same sizes with an ETag: only the last two may keep a partial.
  s.file('/chunked.bin', { size: 600_000, chunked: true, etag: undefined, lastModified: undefined, script: cutEvery({ chunkedCut: 400_000 }) });
  s.file('/length.bin', { size: 600_000, etag: undefined, lastModified: undefined, script: cutEvery({ cut: 400_000, how: 'fin' }) });
  s.file('/small.bin', { size: 100_000, etag: undefined, lastModified: undefined, script: cutEvery({ cut: 40_000, how: 'rst' }) });
  s.file('/tagged.bin', { size: 600_000, script: cutEvery({ cut: 100_000, how: 'fin' }) });
  const dest = tmp();
  const r = await fetchAll(['/chunked.bin', '/length.bin', '/small.bin', '/tagged.bin'].map((p) => s.url(p)), { dest, retries: 1, retryDelay: 10 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.failed, 4, JSON.stringify(r.summary.failures));
  assert.deepEqual(files(dest), []);
  // The tagged one is continued by the next run (Range + If-Range); the others could only be
  // fetched whole again, so their bytes were litter.
  assert.deepEqual(partials(dest), [path.basename(partialOf(dest, 'tagged.bin'))]);
});

test('a body the parser refuses before its first byte: failed, and no empty partial is left behind', async (t) => {
  const s = await raw(t);
  // A chunk size that is not hex: the head was fine (so the partial was opened), the body never began.
  s.file('/badchunk.bin', { script: [{ raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' }] });
  const dest = tmp();
  const r = await fetchAll([s.url('/badchunk.bin')], { dest, retries: 1, retryDelay: 10 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.failed, 1, JSON.stringify(r.summary.failures));
  assert.deepEqual(files(dest), []);
  assert.deepEqual(partials(dest), []);
});

test('cut short on every attempt: failed with a clear reason, no file under the final name, the partial resumes next run', async (t) => {
  const s = await raw(t);
  const f = s.file('/cut.bin', { size: 65_536, script: [{ cut: 20_480, how: 'fin', connectionClose: true }] });
  const dest = tmp();
  const r = await fetchAll([s.url('/cut.bin')], { dest, retries: 0 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.failed, 1);
  assert.match(r.summary.failures[0]!.error, /cut short/);
  assert.ok(!existsSync(path.join(dest, 'cut.bin')), 'no truncated file under the final name');
  assert.equal(readFileSync(partialOf(dest, 'cut.bin')).length, 20_480);

  const again = await fetchAll([s.url('/cut.bin')], { dest });
  assert.equal(again.code, 0, JSON.stringify(again.summary.failures));
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
  const r = await fetchAll(lines(`${s.url('/big/x')}\n${s.url('/x.part')}\n`), { dest });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
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
  assert.equal((await fetchAll([s.url('/x.part')], { dest })).code, 0);
  const r = await fetchAll([s.url('/x')], { dest });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.deepEqual(readFileSync(path.join(dest, 'x.part')), small.body);
  assert.deepEqual(readFileSync(path.join(dest, 'x')), big.body);
  // A file of the user's called y.part is not taken for an interrupted y either.
  writeFileSync(path.join(dest, 'y.part'), 'mine');
  s.route('/y', { size: 5000 });
  assert.equal((await fetchAll([s.url('/y')], { dest })).code, 0);
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
  const r = await fetchAll(lines(list), { dest, contentDisposition: true, limit: 1 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(readFileSync(path.join(dest, 'important.txt'), 'utf8'), 'the user\'s own file');
  // The URL-named item skips the file that is there (--if-exists skip); the two server-named
  // ones get the next free suffixes, and both survive.
  assert.equal(r.summary.counts.skipped, 1);
  assert.equal(r.summary.counts.downloaded, 2);
  const got = files(dest).filter((n) => n !== 'important.txt').map((n) => readFileSync(path.join(dest, n)));
  assert.equal(got.length, 2, files(dest).join(' '));
  assert.deepEqual(new Set(got.map((b) => b.length)), new Set([a.body.length, b.body.length]));
  void c;

  // Again: still nothing replaced, two more copies under new names.
  const again = await fetchAll(lines(`${s.url('/a')}\n`), { dest, contentDisposition: true, ifExists: 'overwrite' });
  assert.equal(again.code, 0, JSON.stringify(again.summary.failures));
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

/** Whether this process may make a private mount namespace (root in CI; not every laptop). */
function canUnshareMount(): boolean {
  const r = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt'], { stdio: 'ignore' });
  return r.status === 0;
}

// Big bodies two at a time, and small ones a hundred at a time: those being written when the disk
// fills up are interrupted, as Ctrl-C leaves them, not failed one by one.
for (const [jobs, size, limit, count] of [['1', 300 << 10, 2, 30], ['2', 300 << 10, 2, 30], ['1', 8 << 10, 100, 2000]] as const) test(`a full disk stops the run as an interrupt does (--jobs ${jobs}, ${count} x ${size >> 10} KiB, -l ${limit}): no new requests, partials kept, exit 1, the report says why`, async (t) => {
  if (!canUnshareMount()) return t.skip('needs unshare --mount and tmpfs (root)');
  const s = await startFaultServer();
  t.after(() => s.close());
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    s.route(`/f${i}.bin`, { size });
    urls.push(s.url(`/f${i}.bin`));
  }
  const root = tmp();
  const dest = path.join(root, 'small');
  const copy = path.join(root, 'copy');
  mkdirSync(dest);
  mkdirSync(copy);
  writeFileSync(path.join(root, 'list.txt'), urls.join('\n') + '\n');
  // DEST is a 1 MiB tmpfs of its own, in a mount namespace only this command sees; its content is
  // copied out before the namespace (and the tmpfs) goes away.
  const script = [
    `mount -t tmpfs -o size=1m tmpfs ${dest}`,
    `"$0" --import "$1" "$2" -d ${dest} -i ${root}/list.txt -l ${limit} --jobs ${jobs} --progress none --report - > ${root}/report.json 2> ${root}/stderr.txt`,
    `echo $? > ${root}/rc`,
    `cp -a ${dest}/. ${copy}/`,
  ].join('; ');
  // Not spawnSync: the test server lives in this process and must go on answering.
  const r = await collect(spawn('unshare', ['--mount', 'sh', '-c', script, process.execPath, TSX, path.join(ROOT, 'src/cli/main.ts')]));
  assert.equal(r.code, 0, r.stderr);
  const stderr = readFileSync(path.join(root, 'stderr.txt'), 'utf8');
  assert.equal(readFileSync(path.join(root, 'rc'), 'utf8').trim(), '1', stderr);
  const report = JSON.parse(readFileSync(path.join(root, 'report.json'), 'utf8')) as { stopped?: string; counts: { downloaded: number; failed: number }; failures: { error: string }[] };
  assert.match(report.stopped ?? '', /no space left on device/);
  assert.match(stderr, /no space left on device/);
  // It stopped: far fewer requests than items, not one failure per remaining URL. (A hundred small
  // bodies at a time go on arriving while the writer thread finds the disk full: a few hundred
  // requests past the ~120 files that fit were seen under load, so the list is long.)
  t.diagnostic(`${s.requests.length} requests of ${count}`);
  assert.ok(s.requests.length < (limit === 2 ? 10 : count / 2), `${s.requests.length} requests`);
  assert.ok(report.counts.failed <= 2, `${report.counts.failed} failed: ${report.failures.slice(0, 3).map((f) => f.error).join('; ')}`);
  assert.ok(report.counts.downloaded >= 1);
  // Whatever is under a final name is whole; the rest is in partial files, kept for resume.
  for (const name of files(copy)) {
    assert.equal(readFileSync(path.join(copy, name)).length, size, name);
  }
  assert.equal(files(copy).length, report.counts.downloaded);
  // Big bodies are written as they come: the one cut by the full disk stays for resume. (Small
  // ones are held whole in memory until their end: nothing of them is on the disk to keep.)
  if (size > 256 << 10) assert.ok(partials(copy).length >= 1, 'a partial file kept for resume');
});

// The partials a full disk leaves are worth something only with their validators in the state log,
// which by then has no room either: without the reserve (store/reserve.ts) the next run found them
// unrecorded, threw them away and fetched every file from zero.
for (const jobs of ['1', '2']) test(`after a full disk, the next run (given room) continues the partials with Range (--jobs ${jobs})`, async (t) => {
  if (!canUnshareMount()) return t.skip('needs unshare --mount and tmpfs (root)');
  const s = await startFaultServer();
  t.after(() => s.close());
  const routes = Array.from({ length: 8 }, (_, i) => s.route(`/m${i}.bin`, { size: 600 << 10 }));
  const root = tmp();
  const dest = path.join(root, 'd');
  const [first, copy] = [path.join(root, 'first'), path.join(root, 'copy')];
  for (const d of [dest, first, copy]) mkdirSync(d);
  writeFileSync(path.join(root, 'list.txt'), routes.map((_, i) => s.url(`/m${i}.bin`)).join('\n') + '\n');
  const run = (n: number): string => `"$0" --import "$1" "$2" -d ${dest} -i ${root}/list.txt -l 4 --jobs ${jobs} --progress none --report ${root}/report${n}.json 2> ${root}/stderr${n}.txt; echo $? > ${root}/rc${n}`;
  const script = [
    `mount -t tmpfs -o size=1m tmpfs ${dest}`, run(1), `cp -a ${dest}/. ${first}/`,
    `mount -o remount,size=16m ${dest}`, run(2), `cp -a ${dest}/. ${copy}/`,
  ].join('; ');
  const r = await collect(spawn('unshare', ['--mount', 'sh', '-c', script, process.execPath, TSX, path.join(ROOT, 'src/cli/main.ts')]));
  assert.equal(r.code, 0, r.stderr);
  const read = (name: string): string => readFileSync(path.join(root, name), 'utf8');
  assert.equal(read('rc1').trim(), '1', read('stderr1.txt'));
  assert.match(read('report1.json'), /no space left on device/);
  // (A partial of 0 bytes, opened as the disk filled, has nothing to continue.)
  const kept = partials(first).filter((n) => statSync(path.join(first, '.bulkget', 'partial', n)).size > 0).length;
  assert.ok(kept >= 1, 'the full disk left partial files');
  assert.equal(read('rc2').trim(), '0', read('stderr2.txt'));
  routes.forEach((route, i) => assert.ok(readFileSync(path.join(copy, `m${i}.bin`)).equals(route.body), `m${i}.bin whole`));
  const resumed = s.requests.filter((q) => q.headers.range !== undefined && q.headers['if-range'] !== undefined);
  assert.ok(resumed.length >= kept, `${resumed.length} ranged requests for ${kept} partials`);
  const report2 = JSON.parse(read('report2.json')) as { bytes: number };
  assert.ok(report2.bytes < 8 * (600 << 10), `${report2.bytes} bytes fetched again`);
});

test('a DEST on a disk that is full already: exit 2 naming the full disk, before any request, and no probe file left behind', async (t) => {
  if (!canUnshareMount()) return t.skip('needs unshare --mount and tmpfs (root)');
  const s = await startFaultServer();
  t.after(() => s.close());
  s.route('/a.bin', { size: 1000 });
  const root = tmp();
  const dest = path.join(root, 'd');
  const copy = path.join(root, 'copy');
  mkdirSync(dest);
  mkdirSync(copy);
  // .bulkget exists (an earlier run), so only the write that proves DEST writable meets the full disk.
  const script = [
    `mount -t tmpfs -o size=256k tmpfs ${dest}`, `mkdir -m 700 -p ${dest}/.bulkget/partial`,
    `head -c 1M /dev/zero > ${dest}/fill 2>/dev/null`,
    `"$0" --import "$1" "$2" -d ${dest} ${s.url('/a.bin')} --progress none 2> ${root}/stderr.txt; echo $? > ${root}/rc`,
    `cp -a ${dest}/.bulkget/. ${copy}/`,
  ].join('; ');
  const r = await collect(spawn('unshare', ['--mount', 'sh', '-c', script, process.execPath, TSX, path.join(ROOT, 'src/cli/main.ts')]));
  assert.equal(r.code, 0, r.stderr);
  const stderr = readFileSync(path.join(root, 'stderr.txt'), 'utf8');
  assert.equal(readFileSync(path.join(root, 'rc'), 'utf8').trim(), '2', stderr);
  assert.match(stderr, /cannot write to DEST .*: no space left on device \(ENOSPC\)/);
  assert.equal(s.requests.length, 0);
  assert.deepEqual(readdirSync(copy), ['partial']);
});

test('an output that is also an input is a usage error, told by identity, and the file is untouched', async () => {
  const dir = tmp();
  const list = path.join(dir, 'list.txt');
  writeFileSync(list, 'http://127.0.0.2:9/a\n');
  const alias = path.join(dir, 'alias.txt');
  symlinkSync(list, alias);
  for (const args of [
    ['-i', list, '--save-failed', list],
    ['-i', list, '--save-failed', path.join(dir, '.', 'list.txt')],
    ['-i', alias, '--report', list],
    ['-i', list, '--report', alias],
    ['--report', path.join(dir, 'out.json'), '--save-failed', path.join(dir, 'out.json'), 'http://127.0.0.2:9/a'],
  ]) {
    const r = await runCli(['-d', path.join(dir, 'dest'), ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /is also the/);
    assert.equal(readFileSync(list, 'utf8'), 'http://127.0.0.2:9/a\n');
  }
  assert.ok(!existsSync(path.join(dir, 'dest')), 'no run started');
  // stdin redirected from the file is caught too.
  const child = spawnSync('sh', ['-c', `"$0" --import "$1" "$2" -d ${dir}/dest --save-failed ${list} < ${list}`, process.execPath, TSX, path.join(ROOT, 'src/cli/main.ts')], { encoding: 'utf8' });
  assert.equal(child.status, 2, child.stderr);
  assert.match(child.stderr, /also the stdin/);
  assert.equal(readFileSync(list, 'utf8'), 'http://127.0.0.2:9/a\n');
});

test('--report FILE never follows a link planted where its temporary file goes; --save-failed is private', async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  s.route('/ok.bin');
  const dir = tmp();
  const victim = path.join(dir, 'victim.txt');
  writeFileSync(victim, 'precious');
  // The old, predictable temporary names.
  symlinkSync(victim, path.join(dir, 'report.json.tmp'));
  symlinkSync(victim, path.join(dir, '.report.json.tmp'));
  const r = await runCli(['-d', path.join(dir, 'dest'), '--progress', 'none', '--report', path.join(dir, 'report.json'), '--save-failed', path.join(dir, 'failed.jsonl'), s.url('/ok.bin'), s.url('/missing.bin')]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')).counts.downloaded, 1);
  assert.equal(statSync(path.join(dir, 'failed.jsonl')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(dir, 'dest', '.bulkget')).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')).sort(), ['.report.json.tmp', 'report.json.tmp']);
});

test('control characters from a server or an input line are escaped on the terminal, in --save-failed and in the report', async (t) => {
  const s = await raw(t);
  // A Location with a C1 CSI and an ESC: an invalid redirect target, named in the error.
  // (A raw ESC in a header is refused by the parser itself; C1 bytes are legal obs-text.)
  s.file('/redir', { script: [{ raw: Buffer.from('HTTP/1.1 302 Found\r\nLocation: http://\u009b31m\u0085evil/\r\nContent-Length: 0\r\n\r\n', 'latin1'), then: 'keep' }] });
  const dir = tmp();
  const input = ['\u001b[31mnot a url\u009b', s.url('/redir'), 'x'.repeat(1_100_000)].join('\n') + '\n';
  const r = await runCli(['-d', path.join(dir, 'dest'), '-r', '0', '--progress', 'none', '--report', path.join(dir, 'r.json'), '--save-failed', path.join(dir, 'f.jsonl'), '-v'], { stdin: input });
  assert.equal(r.code, 1, r.stderr);
  const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  for (const [what, text] of [['stderr', r.stderr], ['stdout', r.stdout], ['report', readFileSync(path.join(dir, 'r.json'), 'latin1')], ['save-failed', readFileSync(path.join(dir, 'f.jsonl'), 'utf8')]] as const) {
    assert.doesNotMatch(text, controls, `${what} holds a raw control character: ${JSON.stringify(text)}`);
    assert.doesNotMatch(text, /\\u0000overlong/, `${what} shows the internal overlong marker`);
  }
  assert.match(r.stderr, /redirect to an invalid URL: http:\/\/\\x9b31m\\x85evil\//);
  const report = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as { failures: Array<{ url: string; kind: string }> };
  assert.ok(report.failures.some((f) => f.kind === 'invalid' && f.url === '\\x1b[31mnot a url\\x9b'), JSON.stringify(report.failures));
  assert.ok(report.failures.some((f) => f.kind === 'invalid' && /longer than 1 MiB/.test(f.url)), JSON.stringify(report.failures.map((f) => f.url.slice(0, 60))));
});

test('a server that closes each connection after its answer, without saying so: every file, even with --retries 0', async (t) => {
  // `then: 'end'`: a FIN right after the body of a keep-alive answer. The next request on that
  // socket went out before the FIN was seen and failed with 'other side closed'; a retry after a
  // backoff took the slot from the next item, which met the next dead socket. Now it is asked
  // again at once on a fresh socket, outside --retries (as curl does).
  const s = await raw(t);
  const urls: string[] = [];
  for (let i = 0; i < 30; i++) {
    const body = `file ${i}`;
    const answer = { raw: `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`, then: 'end' as const };
    s.file(`/k${i}`, { script: [answer, answer, answer, answer] });
    urls.push(s.url(`/k${i}`));
  }
  const dest = tmp();
  const r = await fetchAll(urls, { dest, limit: 2, retries: 0 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  // Each one is reported (a request went out again), at most one per file.
  assert.ok(r.summary.retries <= 30, `${r.summary.retries} retries`);
  for (let i = 0; i < 30; i++) assert.equal(readFileSync(path.join(dest, `k${i}`), 'utf8'), `file ${i}`);
  // A request that met a half-closed socket may have reached the server, which could not answer.
  assert.ok(s.requests.length <= 60, `${s.requests.length} requests`);
});

test('a Location with raw UTF-8 bytes is followed to those bytes, percent-encoded as curl sends them', async (t) => {
  const s = await raw(t);
  const loc = Buffer.concat([Buffer.from('HTTP/1.1 302 Found\r\nLocation: /caf'), Buffer.from('\u00e9/na\u00efve.txt', 'utf8'), Buffer.from('\r\nContent-Length: 0\r\n\r\n')]);
  s.file('/r', { script: [{ raw: loc, then: 'keep' }] });
  const target = s.file('/caf%C3%A9/na%C3%AFve.txt', { size: 9 });
  const dest = tmp();
  const r = await fetchAll([s.url('/r')], { dest, retries: 0 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.deepEqual(s.requests.map((q) => q.path), ['/r', '/caf%C3%A9/na%C3%AFve.txt'], 'not %C3%83%C2%A9: the bytes read as latin1 and encoded again');
  assert.deepEqual(readFileSync(path.join(dest, 'r')), target.body);
});

test('204 No Content is an empty file, downloaded (as curl writes it), with or without a Content-Length it should not have', async (t) => {
  const s = await raw(t);
  s.file('/plain.bin', { script: [{ raw: 'HTTP/1.1 204 No Content\r\n\r\n', then: 'keep' }] });
  s.file('/lying.bin', { script: [{ raw: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', then: 'keep' }] });
  const after = s.file('/after.bin', { size: 300 });
  s.file('/proxied.bin', { script: [{ raw: 'HTTP/1.1 203 Non-Authoritative Information\r\nContent-Length: 3\r\n\r\nabc', then: 'keep' }] });
  const dest = tmp();
  const r = await fetchAll(['/plain.bin', '/lying.bin', '/after.bin', '/proxied.bin'].map((p) => s.url(p)), { dest, limit: 1, retryDelay: 10 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(r.summary.counts.downloaded, 4);
  assert.equal(r.summary.retries, 0);
  assert.deepEqual(files(dest), ['after.bin', 'lying.bin', 'plain.bin', 'proxied.bin']);
  assert.equal(readFileSync(path.join(dest, 'plain.bin')).length, 0);
  assert.equal(readFileSync(path.join(dest, 'lying.bin')).length, 0);
  assert.deepEqual(readFileSync(path.join(dest, 'after.bin')), after.body);
  assert.equal(readFileSync(path.join(dest, 'proxied.bin'), 'utf8'), 'abc');
  assert.deepEqual(partials(dest), []);
});

test('a body that ends with the connection (no length, no chunks): a FIN ends it whole, an RST cuts it short', async (t) => {
  // undici completes such a body on ECONNRESET as on a clean close; bulkget saved the 5 bytes
  // it had under the final name and said "downloaded" (curl: "(56) Recv failure").
  const s = await raw(t);
  const head = 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n';
  s.file('/fin.txt', { script: [{ raw: `${head}hello world`, then: 'end' }] });
  s.file('/rst.txt', { script: [{ raw: `${head}hello`, then: 'rst' }, { raw: `${head}hello world`, then: 'end' }] });
  s.file('/rst-always.txt', { script: [{ raw: `${head}hello`, then: 'rst' }, { raw: `${head}hel`, then: 'rst' }] });
  const dest = tmp();
  const r = await fetchAll(['/fin.txt', '/rst.txt', '/rst-always.txt'].map((p) => s.url(p)), { dest, retries: 1, retryDelay: 10 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.downloaded, 2);
  assert.equal(readFileSync(path.join(dest, 'fin.txt'), 'utf8'), 'hello world');
  assert.equal(s.hits('/rst.txt').length, 2, 'the reset body was asked for again');
  assert.equal(readFileSync(path.join(dest, 'rst.txt'), 'utf8'), 'hello world');
  assert.equal(existsSync(path.join(dest, 'rst-always.txt')), false, 'no truncated file under the final name');
  assert.match(JSON.stringify(r.summary.failures), /cut short after 3 bytes/);
});

test('a chunked body on a Connection: close answer cut by an RST is retried as a body cut short', async (t) => {
  // The parser finishes such a socket with "Invalid EOF state", which was the item's error and
  // was not retried.
  const s = await raw(t);
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  s.file('/c.txt', { script: [{ raw: `${head}5\r\nhello\r\n`, then: 'rst' }, { raw: `${head}5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`, then: 'end' }] });
  s.file('/d.txt', { script: [{ raw: `${head}3\r\nhel\r\n`, then: 'rst' }, { raw: `${head}2\r\nhe\r\n`, then: 'rst' }] });
  const dest = tmp();
  const r = await fetchAll([s.url('/c.txt'), s.url('/d.txt')], { dest, retries: 1, retryDelay: 10 });
  assert.equal(r.summary.counts.downloaded, 1);
  assert.equal(readFileSync(path.join(dest, 'c.txt'), 'utf8'), 'hello world');
  assert.equal(s.hits('/d.txt').length, 2);
  assert.equal(existsSync(path.join(dest, 'd.txt')), false);
  assert.match(JSON.stringify(r.summary.failures), /body cut short after 2 bytes: the connection ended/);
});
