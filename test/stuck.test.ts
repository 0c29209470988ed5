// Stuck runs and locks: a server that keeps a request alive without sending it (102 Processing
// forever, a trickle), --max-time, the DEST lock in containers (PID namespaces, kill -9, reused
// pids) and across hosts (a lease), and headers a real server repeats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ROOT, TSX, collect, runCli, type CliResult } from './helpers/cli.js';
import { startRawServer, type RawServer } from './helpers/raw.js';
import { startFaultServer } from './helpers/faults.js';
import { fetchAll } from './helpers/lib.js';
import { tempDirs } from './helpers/tmp.js';
import { LockBusyError, acquireLock } from '../src/store/lock.js';
import type { LockRecord } from '../src/store/lock-owner.js';
import { fold } from '../src/http/lenient.js';
import { exchange } from '../src/http/exchange.js';
import { Watchdog } from '../src/http/watchdog.js';
import type { Dispatcher } from 'undici';

const tmp = tempDirs('stuck');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

async function raw(t: { after: (fn: () => Promise<void>) => void }): Promise<RawServer> {
  const s = await startRawServer();
  t.after(() => s.close());
  return s;
}

test('102 Processing every 300 ms is not progress: --timeout 1s fails the attempt', async (t) => {
  const s = await raw(t);
  s.file('/slow', { size: 100, script: [{ interim: 50, everyMs: 300 }] });
  const t0 = performance.now();
  const r = await fetchAll([s.url('/slow')], { dest: tmp(), retries: 0, timeout: 1000 });
  const took = performance.now() - t0;
  assert.equal(r.code, 1);
  assert.match(r.summary.failures[0]!.error, /timed out.*1xx/);
  assert.ok(took < 8000, `took ${Math.round(took)} ms, not the 15 s of interim answers`);
});

test('undici\'s own --timeout timers, when they fire before the watchdog, fail in the watchdog\'s words', async () => {
  // undici gets the same --timeout for its headers and body timers; whichever sees the silence
  // first, the message is one (a stalled body said 'timed out waiting for body bytes' one run in
  // four with --timeout 1s, and 'no data for 1s' the other three).
  const failing = (code: string, afterHead: boolean): Dispatcher => ({
    dispatch(_opts: unknown, handler: Dispatcher.DispatchHandler) {
      handler.onConnect!(() => {});
      setImmediate(() => {
        if (afterHead) handler.onHeaders!(200, [Buffer.from('content-length'), Buffer.from('100')], () => {}, 'OK');
        handler.onError!(Object.assign(new Error('undici timer'), { code }));
      });
      return true;
    },
  }) as unknown as Dispatcher;
  const sink = { write: () => true, end: () => {}, fail: () => {}, attach: () => {} };
  for (const [code, afterHead] of [['UND_ERR_HEADERS_TIMEOUT', false], ['UND_ERR_BODY_TIMEOUT', true]] as const) {
    const watchdog = new Watchdog(1000);
    await assert.rejects(exchange(failing(code, afterHead), { path: '/', headers: {} }, () => sink, { watchdog }), (err: Error) => {
      assert.equal(err.message, 'timed out: no data for 1s (--timeout; interim 1xx answers are not progress)', code);
      return true;
    });
  }
});

test('--timeout 0 and --connect-timeout 0 are no limit (wget, curl), not 1 ms', async (t) => {
  const s = await raw(t);
  s.file('/slow', { size: 4, script: [{ trickle: 150 }] });
  const dest = tmp();
  const r = await fetchAll([s.url('/slow')], { dest, retries: 0, timeout: 0, connectTimeout: 0 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(readFileSync(path.join(dest, 'slow')).length, 4);
});

test('interim answers then the file: downloaded, the interim heads passed over', async (t) => {
  const s = await raw(t);
  const f = s.file('/later', { size: 5000, script: [{ interim: 3, everyMs: 100 }] });
  const dest = tmp();
  const r = await fetchAll([s.url('/later')], { dest, timeout: 1000 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.deepEqual(readFileSync(path.join(dest, 'later')), f.body);
});

test('--max-time ends a trickling body and counts every attempt and wait, but not the queue', async (t) => {
  const s = await raw(t);
  // One byte every 200 ms: never idle for --timeout, never done.
  s.file('/trickle', { size: 1000, script: [{ trickle: 200 }, { trickle: 200 }, { trickle: 200 }] });
  const t0 = performance.now();
  const r = await fetchAll([s.url('/trickle')], { dest: tmp(), timeout: 1000, maxTime: 1500, retries: 3, retryDelay: 10 });
  const took = performance.now() - t0;
  assert.equal(r.code, 1);
  assert.match(r.summary.failures[0]!.error, /--max-time 1\.5s reached/);
  assert.equal(s.hits('/trickle').length, 1, 'a spent --max-time is not retried');
  assert.ok(took < 6000, `took ${Math.round(took)} ms`);

  // A retry whose backoff would pass the deadline fails at once, saying so.
  s.file('/busy', { script: [{ status: 503, headers: { 'Retry-After': '5' } }] });
  const b = await fetchAll([s.url('/busy')], { dest: tmp(), maxTime: 2000 });
  assert.equal(b.code, 1);
  assert.match(b.summary.failures[0]!.error, /503.*--max-time 2s reached before the next attempt/);
  assert.equal(s.hits('/busy').length, 1);

  // Queue time is free: with one connection, q.bin waits ~1.5 s behind a slow file, then takes
  // well under its 1 s --max-time.
  const fs2 = await startFaultServer();
  t.after(() => fs2.close());
  fs2.route('/slow.bin', { size: 4000, script: ['slowbody'], slowMs: 1500 });
  fs2.route('/q.bin', { size: 10 });
  const q = await fetchAll([fs2.url('/slow.bin'), fs2.url('/q.bin')], { dest: tmp(), limit: 1, maxTime: 2000 });
  assert.equal(q.code, 0, JSON.stringify(q.summary.failures));
  // ...and the slow one alone, at --max-time 1s, is cut.
  fs2.route('/slow2.bin', { size: 4000, script: ['slowbody'], slowMs: 3000 });
  const cut = await fetchAll([fs2.url('/slow2.bin')], { dest: tmp(), maxTime: 1000 });
  assert.equal(cut.code, 1);
});

test('fold: repeated equal Content-Length values become one; conflicts are left alone', () => {
  const head = (lines: string[]) => ['HTTP/1.1 200 OK', ...lines, ''].join('\r\n');
  assert.equal(fold(head(['Content-Length: 5', 'Content-Length: 5'])), head(['Content-Length: 5']));
  assert.equal(fold(head(['content-length: 5, 5', 'ETag: "x"'])), head(['Content-Length: 5', 'ETag: "x"']));
  assert.equal(fold(head(['Content-Length:5', 'X: y', 'content-length : 5 ,5'])), head(['Content-Length: 5', 'X: y']));
  assert.equal(fold(head(['Content-Length: 5', 'Content-Length: 6'])), head(['Content-Length: 5', 'Content-Length: 6']));
  assert.equal(fold(head(['Content-Length: 5, 6'])), head(['Content-Length: 5, 6']));
  // Transfer-Encoding wins over Content-Length (RFC 9112 6.3).
  assert.equal(fold(head(['Content-Length: 3', 'Transfer-Encoding: chunked'])), head(['Transfer-Encoding: chunked']));
  // A control character in a value would make the parser refuse the whole head.
  assert.equal(fold(head(['Content-Disposition: attachment; filename="\u001b[31mx"', 'Content-Length: 3'])), head(['Content-Disposition: attachment; filename="_[31mx"', 'Content-Length: 3']));
  // Bare LF line ends become CRLF; an obs-fold continuation joins its line with one space.
  assert.equal(fold('HTTP/1.1 200 OK\nContent-Length: 5\nX: y\n'), head(['Content-Length: 5', 'X: y']));
  assert.equal(fold(head(['X-Long: a', ' b', '\tc', 'Content-Length: 5'])), head(['X-Long: a b c', 'Content-Length: 5']));
});

test('a header repeated with the same value is accepted (Content-Length twice, or "5, 5"), also after a 1xx', async (t) => {
  const s = await raw(t);
  const ok = (h: string) => ({ raw: `HTTP/1.1 200 OK\r\n${h}\r\n\r\nhello`, then: 'keep' as const });
  // Every answer of a path is the odd one: the file must come from such an answer, not from a
  // well-formed one after it.
  const always = <T>(a: T) => [a, a, a, a];
  s.file('/twice', { script: always(ok('Content-Length: 5\r\nContent-Length: 5')) });
  s.file('/list', { script: always(ok('Content-Length: 5, 5')) });
  s.file('/after1xx', { script: always({ raw: 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\nhello', then: 'keep' as const }) });
  s.file('/conflict', { script: always(ok('Content-Length: 5\r\nContent-Length: 6')) });
  s.file('/te', { script: always({ raw: 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', then: 'keep' as const }) });
  s.file('/ctl', { script: always(ok('Content-Length: 5\r\nX-Note: a\u0001b\u001b[0m')) });
  const dest = tmp();
  const r = await fetchAll(['/twice', '/list', '/after1xx', '/conflict', '/te', '/ctl'].map((p) => s.url(p)), { dest, retries: 0 });
  assert.equal(r.code, 1);
  for (const name of ['twice', 'list', 'after1xx', 'te', 'ctl']) assert.equal(readFileSync(path.join(dest, name), 'utf8'), 'hello', name);
  // Different values are a broken answer: refused, saying so, and not retried for ever.
  assert.deepEqual(r.summary.failures.map((f) => [new URL(f.url).pathname, f.error]), [['/conflict', 'the server sent a malformed response head']]);
  assert.ok(s.hits('/conflict').length <= 3, `${s.hits('/conflict').length} requests`);
  assert.equal(r.summary.retries, 0, 'the lenient re-attempt is not a retry');

  // An endpoint turns lenient once: its first odd head costs one connection, then keep-alive.
  const s2 = await raw(t);
  s2.file('/a', { script: always(ok('Content-Length: 5\r\nContent-Length: 5')) });
  s2.file('/b', { size: 10 });
  s2.file('/c', { script: always(ok('Content-Length: 5, 5')) });
  const k = await fetchAll([s2.url('/a'), s2.url('/b'), s2.url('/c')], { dest: tmp(), limit: 1 });
  assert.equal(k.code, 0, JSON.stringify(k.summary.failures));
  assert.equal(s2.conns.accepted, 2, 'the refused head cost its connection; the rest shared one');
  assert.deepEqual(s2.requests.map((x) => x.path).sort(), ['/a', '/a', '/b', '/c']);
});

test('an unasked-for 100 Continue is skipped, as curl does, alone or among other interim heads', async (t) => {
  // undici drops the socket on a 100 when the request had no `Expect` ('bad response'); real
  // servers and proxies send one anyway. Only the final head decides, and no retry is spent.
  const s = await raw(t);
  const always = <T>(a: T) => [a, a, a, a];
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
  s.file('/c100', { script: always({ raw: `HTTP/1.1 100 Continue\r\n\r\n${ok}`, then: 'keep' as const }) });
  s.file('/twice', { script: always({ raw: `HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n${ok}`, then: 'keep' as const }) });
  s.file('/mixed', { script: always({ raw: `HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, then: 'keep' as const }) });
  s.file('/plain', { size: 7 });
  const dest = tmp();
  const r = await fetchAll(['/c100', '/twice', '/mixed', '/plain'].map((p) => s.url(p)), { dest, retries: 0, limit: 1 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  for (const name of ['c100', 'twice', 'mixed']) assert.equal(readFileSync(path.join(dest, name), 'utf8'), 'hello', name);
  assert.equal(readFileSync(path.join(dest, 'plain')).length, 7);
  assert.equal(r.summary.retries, 0, 'the lenient re-attempt is not a retry');
  assert.equal(s.conns.accepted, 2, 'the first 100 cost its connection; the rest shared one');

  // A 100 alone in its packet, the answer later: the skipped head leaves nothing behind.
  const s2 = await raw(t);
  s2.file('/c100', { script: always({ raw: 'HTTP/1.1 100 Continue\r\n\r\n', then: 'keep' as const }) });
  const d2 = tmp();
  const r2 = await fetchAll([s2.url('/c100')], { dest: d2, retries: 0, timeout: 400 });
  assert.equal(r2.code, 1);
  assert.match(r2.summary.failures[0]!.error, /timed out/, 'a 100 is not progress: the item times out, it does not hang');
  assert.deepEqual(readdirSync(d2).filter((n) => n !== '.bulkget'), []);
});

test('heads with bare LF line ends, or a header folded over two lines (obs-fold), are read as curl reads them', async (t) => {
  const s = await raw(t);
  const always = <T>(a: T) => [a, a, a, a];
  s.file('/lf', { script: always({ raw: 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello', then: 'keep' as const }) });
  s.file('/mixed', { script: always({ raw: 'HTTP/1.1 200 OK\r\nContent-Length: 5\n\r\nhello', then: 'keep' as const }) });
  s.file('/obs', { script: always({ raw: 'HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 5\r\n\r\nhello', then: 'keep' as const }) });
  s.file('/interim-lf', { script: always({ raw: 'HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 5\n\nhello', then: 'keep' as const }) });
  s.file('/plain', { size: 7 });
  const dest = tmp();
  const r = await fetchAll(['/lf', '/mixed', '/obs', '/interim-lf', '/plain'].map((p) => s.url(p)), { dest, retries: 0, limit: 1, timeout: 3000 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  for (const name of ['lf', 'mixed', 'obs', 'interim-lf']) assert.equal(readFileSync(path.join(dest, name), 'utf8'), 'hello', name);
  assert.equal(readFileSync(path.join(dest, 'plain')).length, 7);
  assert.equal(r.summary.retries, 0, 'the lenient re-attempt is not a retry');
});

test('a control character in a header of the very first answer: the file still comes, its server name sanitised', async (t) => {
  // undici's parser errors carry no code; nothing earlier has made the endpoint lenient here.
  const s = await raw(t);
  const always = <T>(a: T) => [a, a, a, a];
  s.file('/dl', { script: always({ raw: 'HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename="../../evil\u001b[31m.txt"\r\nContent-Length: 5\r\n\r\nhello', then: 'keep' as const }) });
  const dest = tmp();
  const r = await fetchAll([s.url('/dl')], { dest, retries: 0, contentDisposition: true });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.deepEqual(readdirSync(dest).filter((n) => n !== '.bulkget'), ['evil_[31m.txt']);
  assert.equal(readFileSync(path.join(dest, 'evil_[31m.txt'), 'utf8'), 'hello');
  assert.equal(r.summary.retries, 0, 'the lenient re-attempt is not a retry');
});

// ---------------------------------------------------------------------------------------------
// The DEST lock

function record(over: Partial<LockRecord>): string {
  const r: LockRecord = { pid: 424242, host: 'elsewhere', boot: 'another-kernel', ns: '', start: '', sock: '', token: 'feedfacefeedface', ...over };
  return JSON.stringify(r) + '\n';
}

test('lock: a holder on another host keeps it while it renews the lease; a lapsed lease is taken over', async () => {
  const dest = tmp();
  mkdirSync(path.join(dest, '.bulkget'));
  const lockFile = path.join(dest, '.bulkget', 'lock');
  writeFileSync(lockFile, record({}));
  await assert.rejects(acquireLock(dest, 'D', { staleMs: 5000 }), (err: unknown) => {
    assert.ok(err instanceof LockBusyError);
    assert.equal(err.message, 'D is in use by bulkget pid 424242 on elsewhere');
    return true;
  });
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockFile, old, old);
  const lock = await acquireLock(dest, 'D', { staleMs: 5000 });
  lock.release();
});

test('lock: the holder renews its lease while it runs', async () => {
  const dest = tmp();
  const lock = await acquireLock(dest, 'D', { renewMs: 50 });
  const lockFile = path.join(dest, '.bulkget', 'lock');
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockFile, old, old);
  await new Promise((r) => setTimeout(r, 200));
  const { mtimeMs } = (await import('node:fs')).statSync(lockFile);
  assert.ok(Date.now() - mtimeMs < 1000, 'touched again');
  lock.release();
});

test('lock: a lock naming a live pid of this kernel whose socket is gone is taken over (a reused pid)', async () => {
  const dest = tmp();
  mkdirSync(path.join(dest, '.bulkget'));
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  // pid 1 is alive, but it is not the holder: the holder's socket answers no more.
  writeFileSync(path.join(dest, '.bulkget', 'lock'), record({ pid: 1, host: hostname(), boot, sock: 'lock-feedfacefeedface.sock' }));
  writeFileSync(path.join(dest, '.bulkget', 'lock-feedfacefeedface.sock'), '');
  const lock = await acquireLock(dest, 'D');
  lock.release();
  assert.deepEqual(readdirSync(path.join(dest, '.bulkget')), [], 'the dead holder\'s socket file is cleaned up too');
});

function canUnsharePid(): boolean {
  return spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;
}

/** bulkget in a PID namespace of its own; `asPid2` puts a shell first so bulkget is pid 2. */
function inNamespace(args: string[], asPid2: boolean): ChildProcess {
  const cmd = [process.execPath, '--import', TSX, MAIN, ...args];
  const argv = asPid2 ? ['sh', '-c', '"$@" & wait', 'sh', ...cmd] : cmd;
  // A process group of its own, so the test can kill -9 all of it (the namespace dies with it).
  return spawn('unshare', ['--pid', '--fork', '--mount-proc', ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('lock in containers: PID namespaces never make a live lock look dead, nor a dead one alive', async (t) => {
  if (!canUnsharePid()) return t.skip('needs unshare --pid (root)');
  const s = await startFaultServer();
  t.after(() => s.close());
  const route = s.route('/long.bin', { size: 1 << 20, throttle: { bytes: 16 << 10, everyMs: 50 } });
  const dest = tmp();
  // A run as pid 2 of its own namespace, downloading for a few seconds.
  const first = inNamespace(['-d', dest, '--progress', 'none', s.url('/long.bin')], true);
  const firstDone = collect(first);
  await waitFor(() => s.hits('/long.bin').length > 0, 10_000);

  // From another namespace, where pid 2 is nobody: still busy.
  const second = await collect(inNamespace(['-d', dest, '--progress', 'none', s.url('/other.bin')], false));
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`is in use by bulkget pid 2 on ${hostname()}`));
  // From this namespace, where pid 2 is someone else entirely: busy too.
  const third = await runCli(['-d', dest, '--progress', 'none', s.url('/other.bin')]);
  assert.equal(third.code, 2, third.stderr);
  assert.equal(s.hits('/other.bin').length, 0);

  // kill -9 the whole namespace mid-download; a rerun (pid 1 of a new namespace) takes over at once.
  process.kill(-first.pid!, 'SIGKILL');
  await firstDone;
  route.throttle = undefined;
  const t0 = performance.now();
  const rerun: CliResult = await collect(inNamespace(['-d', dest, '--progress', 'none', s.url('/long.bin')], false));
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.ok(performance.now() - t0 < 15_000, 'no lease to wait out on the same kernel');
  assert.deepEqual(readFileSync(path.join(dest, 'long.bin')), route.body);
});
