// Interrupted runs and what the next run makes of their .part files: kill -9, SIGINT and SIGTERM
// mid-body, then a rerun that continues with Range + If-Range, or starts clean when the server's
// file changed, the server ignores Range, or its Content-Range is wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { collect, runCli, spawnCli, type CliResult } from './helpers/cli.js';
import { startFaultServer, type FaultServer, type Route } from './helpers/faults.js';
import { sleep } from './helpers/server.js';
import { partialOf, tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('resume');
const MiB = 1 << 20;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function server(t: { after: (fn: () => Promise<void>) => void }): Promise<FaultServer> {
  const s = await startFaultServer();
  t.after(() => s.close());
  return s;
}

function partBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Starts a download, waits until its partial file holds `atLeast` bytes, then sends `signal`. */
async function interrupt(url: string, dest: string, name: string, atLeast: number, signal: NodeJS.Signals, extra: string[] = []): Promise<CliResult & { partAtSignal: number }> {
  const child = spawnCli(['-d', dest, '--progress', 'none', ...extra, url]);
  const done = collect(child);
  child.stdin!.end();
  const part = partialOf(dest, name);
  const t0 = Date.now();
  while (partBytes(part) < atLeast && Date.now() - t0 < 20_000 && child.exitCode === null) await sleep(5);
  assert.equal(child.exitCode, null, 'still downloading when the signal is sent');
  const partAtSignal = partBytes(part);
  assert.ok(partAtSignal >= atLeast, `the .part reached ${partAtSignal} bytes`);
  child.kill(signal);
  const r = await done;
  return { ...r, partAtSignal };
}

interface Report {
  counts: Record<string, number>;
  bytes: number;
  retries: number;
}

async function rerun(url: string, dest: string, extra: string[] = []): Promise<CliResult & { report: Report }> {
  const reportFile = path.join(tmp(), 'report.json');
  const r = await runCli(['-d', dest, '--progress', 'none', '--report', reportFile, url, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return { ...r, report: JSON.parse(readFileSync(reportFile, 'utf8')) as Report };
}

function big(s: FaultServer, name: string, size: number): Route {
  // ~6.4 MB/s: slow enough to be caught mid-body, fast enough for a quick test.
  return s.route(`/${name}`, { size, throttle: { bytes: 64 * 1024, everyMs: 10 } });
}

test('kill -9 mid-download, then rerun: Range + If-Range, correct sha256, well under the full size again', async (t) => {
  const s = await server(t);
  const size = 20 * MiB;
  const route = big(s, 'big.bin', size);
  const dest = tmp();
  const killed = await interrupt(s.url('/big.bin'), dest, 'big.bin', 12 * MiB, 'SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(!existsSync(path.join(dest, 'big.bin')), 'no final file after kill -9');
  const kept = partBytes(partialOf(dest, 'big.bin'));
  assert.ok(kept >= 12 * MiB);

  route.throttle = undefined;
  // The killed run's lock names a dead pid: the rerun takes it over silently. The rerun's line
  // also gives sha256 and size, so the check covers the bytes from both runs.
  const list = path.join(tmp(), 'list.jsonl');
  writeFileSync(list, JSON.stringify({ url: s.url('/big.bin'), sha256: route.sha256(), size }) + '\n');
  const r = await rerun('-i', dest, [list]);
  const last = s.hits('/big.bin').at(-1)!;
  assert.equal(last.headers.range, `bytes=${kept}-`);
  assert.equal(last.headers['if-range'], route.etag);
  assert.equal(last.answer, '206');
  assert.equal(sha256(readFileSync(path.join(dest, 'big.bin'))), route.sha256());
  assert.ok(!existsSync(partialOf(dest, 'big.bin')));
  assert.equal(r.report.counts.downloaded, 1);
  assert.equal(r.report.bytes, size - kept, 'only the missing bytes were received');
  assert.ok(r.report.bytes < size / 2);
});

test('kill -9 mid-body of a 720 KiB file (streamed, not gathered): the rerun continues it with Range', async (t) => {
  const s = await server(t);
  const size = 720 * 1024;
  // ~800 KB/s: the kill comes half a second into the body, past the state log's 200 ms batch.
  const route = s.route('/mid.bin', { size, throttle: { bytes: 8 * 1024, everyMs: 10 } });
  const dest = tmp();
  const killed = await interrupt(s.url('/mid.bin'), dest, 'mid.bin', 400 * 1024, 'SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  const kept = partBytes(partialOf(dest, 'mid.bin'));
  assert.ok(kept >= 400 * 1024 && kept < size, `kept ${kept}`);
  route.throttle = undefined;
  const r = await rerun(s.url('/mid.bin'), dest);
  const last = s.hits('/mid.bin').at(-1)!;
  assert.equal(last.headers.range, `bytes=${kept}-`);
  assert.equal(last.headers['if-range'], route.etag);
  assert.equal(sha256(readFileSync(path.join(dest, 'mid.bin'))), route.sha256());
  assert.equal(r.report.bytes, size - kept);
});

test('SIGINT mid-download: exit 130, report printed, .part kept; the file changed on the server: clean restart', async (t) => {
  const s = await server(t);
  const size = 4 * MiB;
  const route = big(s, 'int.bin', size);
  const dest = tmp();
  const r = await interrupt(s.url('/int.bin'), dest, 'int.bin', 1.5 * MiB, 'SIGINT');
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stdout, /Elapsed time/);
  // The report says what became of the file under way, not that there was nothing to do.
  assert.match(r.stdout, /^1 interrupted \(run again to finish\)\.$/m);
  assert.doesNotMatch(r.stdout, /Nothing to download/);
  assert.doesNotMatch(r.stderr, /\n\s+at |Unhandled|internal error/);
  assert.ok(!existsSync(path.join(dest, 'int.bin')));
  assert.ok(partBytes(partialOf(dest, 'int.bin')) >= r.partAtSignal, '.part kept for resume');
  assert.ok(!existsSync(path.join(dest, '.bulkget', 'lock')), 'lock released');

  const oldEtag = route.etag;
  route.change();
  route.throttle = undefined;
  const again = await rerun(s.url('/int.bin'), dest);
  const last = s.hits('/int.bin').at(-1)!;
  assert.equal(last.headers['if-range'], oldEtag, 'resume was tried with the old validator');
  assert.equal(last.answer, '200', 'the server sent the whole new file');
  assert.equal(sha256(readFileSync(path.join(dest, 'int.bin'))), route.sha256());
  assert.equal(again.report.bytes, size);
});

test('SIGTERM mid-download: exit 143; a server that ignores Range gets a clean full download', async (t) => {
  const s = await server(t);
  const size = 4 * MiB;
  const route = big(s, 'term.bin', size);
  const dest = tmp();
  const r = await interrupt(s.url('/term.bin'), dest, 'term.bin', 1.5 * MiB, 'SIGTERM');
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stdout, /Elapsed time/);
  assert.ok(existsSync(partialOf(dest, 'term.bin')));

  route.throttle = undefined;
  route.ignoreRange = true;
  const again = await rerun(s.url('/term.bin'), dest);
  const last = s.hits('/term.bin').at(-1)!;
  assert.ok(last.headers.range, 'resume was tried');
  assert.equal(last.answer, '200');
  assert.equal(sha256(readFileSync(path.join(dest, 'term.bin'))), route.sha256());
  assert.equal(statSync(path.join(dest, 'term.bin')).size, size);
  assert.equal(again.report.bytes, size);
});

test('a 206 with a Content-Range that is not where the .part ends: clean restart', async (t) => {
  const s = await server(t);
  const size = 4 * MiB;
  const route = big(s, 'shift.bin', size);
  const dest = tmp();
  const r = await interrupt(s.url('/shift.bin'), dest, 'shift.bin', 1.5 * MiB, 'SIGINT');
  assert.equal(r.code, 130);
  route.throttle = undefined;
  route.shiftRange = 1000;
  await rerun(s.url('/shift.bin'), dest);
  const hits = s.hits('/shift.bin');
  const [resumed, restarted] = hits.slice(-2);
  assert.equal(resumed!.answer, '206');
  assert.equal(restarted!.headers.range, undefined, 'the restart asks for the whole file');
  assert.equal(restarted!.answer, '200');
  assert.equal(sha256(readFileSync(path.join(dest, 'shift.bin'))), route.sha256());
});

test('a 206 that stops short of the end (Content-Range a-b/total with b < total-1) is not a whole file', async (t) => {
  const s = await server(t);
  const size = 2 * MiB;
  const route = big(s, 'part206.bin', size);
  const dest = tmp();
  const r = await interrupt(s.url('/part206.bin'), dest, 'part206.bin', 1.2 * MiB, 'SIGINT');
  assert.equal(r.code, 130);
  route.throttle = undefined;
  // The server answers the Range with 11 bytes ("status 206\n"), honestly labelled as such.
  const kept = partBytes(partialOf(dest, 'part206.bin'));
  route.script = [{ status: 206, headers: { 'content-range': `bytes ${kept}-${kept + 10}/${size}` } }];
  const rr = await runCli(['-d', dest, '--progress', 'none', '-r', '0', s.url('/part206.bin')]);
  assert.equal(rr.code, 0, rr.stderr);
  assert.equal(s.hits('/part206.bin').at(-1)!.answer, '200', 'a clean restart');
  assert.equal(sha256(readFileSync(path.join(dest, 'part206.bin'))), route.sha256());
});

test('a 206 to a request that asked for no range does not loop forever', { timeout: 15_000 }, async (t) => {
  const s = await server(t);
  s.fixed('/odd.bin', { status: 206, headers: { 'content-range': 'bytes 0-9/100' } });
  const dest = tmp();
  const r = await runCli(['-d', dest, '--progress', 'none', '-r', '1', s.url('/odd.bin')]);
  assert.equal(r.code, 1);
  assert.ok(s.hits('/odd.bin').length <= 4, `${s.hits('/odd.bin').length} requests`);
  assert.ok(!existsSync(path.join(dest, 'odd.bin')));
});

test('SIGINT while the endpoint is paused by Retry-After: exits at once with 130', { timeout: 15_000 }, async (t) => {
  const s = await server(t);
  s.route('/p1.bin', { script: [{ status: 429, retryAfter: '30' }] });
  s.route('/p2.bin');
  const dest = tmp();
  const child = spawnCli(['-d', dest, '--progress', 'none', '-p', '1', s.url('/p1.bin'), s.url('/p2.bin')]);
  const done = collect(child);
  child.stdin!.end();
  const t0 = Date.now();
  while (s.hits('/p1.bin').length === 0 && Date.now() - t0 < 10_000) await sleep(10);
  await sleep(200);
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assert.equal(s.hits('/p2.bin').length, 0);
  assert.match(r.stdout, /Elapsed time/);
});

test('SIGINT with stdin still open: stops reading input, reports, exits 130', { timeout: 15_000 }, async (t) => {
  const s = await server(t);
  const route = s.route('/first.bin');
  const dest = tmp();
  const child = spawnCli(['-d', dest, '--progress', 'none']);
  const done = collect(child);
  child.stdin!.write(s.url('/first.bin') + '\n');
  const t0 = Date.now();
  while (!existsSync(path.join(dest, 'first.bin')) && Date.now() - t0 < 10_000) await sleep(10);
  child.kill('SIGINT');
  const r = await done;
  child.stdin!.destroy();
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stdout, /1 file downloaded/);
  assert.deepEqual(readFileSync(path.join(dest, 'first.bin')), route.body);
});

test('SIGINT twice in a row: still 130, .part kept, no stack trace', { timeout: 15_000 }, async (t) => {
  const s = await server(t);
  big(s, 'twice.bin', 4 * MiB);
  const dest = tmp();
  const child = spawnCli(['-d', dest, '--progress', 'none', s.url('/twice.bin')]);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = collect(child);
  child.stdin!.end();
  const t0 = Date.now();
  while (partBytes(partialOf(dest, 'twice.bin')) < 256 * 1024 && Date.now() - t0 < 10_000) await sleep(5);
  child.kill('SIGINT');
  // The second one once the first was seen (two at once would merge into one signal). The first
  // stop is quick, so the second lands either while it runs (exit at once) or after it is over.
  while (!stderr.includes('stopping') && child.exitCode === null && Date.now() - t0 < 10_000) await sleep(1);
  if (child.exitCode === null) child.kill('SIGINT');
  const r = await done;
  // 130 when the first stop finished first; killed by SIGINT (a shell's 130) when the second
  // Ctrl-C came while it ran.
  assert.ok(r.code === 130 || r.signal === 'SIGINT', JSON.stringify({ code: r.code, signal: r.signal, stderr: r.stderr }));
  assert.doesNotMatch(r.stderr, /\n\s+at |Unhandled|internal error/);
  assert.ok(!existsSync(path.join(dest, 'twice.bin')));
  assert.ok(existsSync(partialOf(dest, 'twice.bin')));
});

test('Ctrl-C twice ends the process at once, even with a write stuck in the thread pool', { timeout: 30_000 }, async (t) => {
  // --save-failed goes to a FIFO whose reader never reads: once the pipe is full, the writer's
  // next write waits in the thread pool for good, and the run waits for it at the end. The first
  // Ctrl-C cannot finish that; the second must end the process (process.exit would wait for the
  // stuck thread, forever).
  const s = await server(t);
  const dir = tmp();
  const fifo = path.join(dir, 'failed.fifo');
  execFileSync('mkfifo', [fifo]);
  const holder = spawn('sh', ['-c', 'exec 3<"$1"; exec sleep 60', 'sh', fifo], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  await sleep(200);
  // ~1,500 failures of ~120 bytes each: twice what a pipe holds.
  const urls = Array.from({ length: 1500 }, (_, i) => s.url(`/missing-${String(i).padStart(5, '0')}-padding-padding.bin`));
  const child = spawnCli(['-d', path.join(dir, 'out'), '--progress', 'none', '-q', '-r', '0', '--save-failed', fifo, '-i', '-']);
  const done = collect(child);
  child.stdin!.end(urls.join('\n') + '\n');
  const t0 = Date.now();
  while (s.requests.length < urls.length && Date.now() - t0 < 15_000) await sleep(20);
  assert.equal(s.requests.length, urls.length, 'every URL was tried');
  await sleep(500);
  assert.equal(child.exitCode, null, 'stuck on the full FIFO');
  child.kill('SIGINT');
  await sleep(500);
  assert.equal(child.exitCode, null, 'the first Ctrl-C cannot finish a stuck write');
  const t1 = Date.now();
  child.kill('SIGINT');
  const r = await done;
  assert.ok(Date.now() - t1 < 5000, `exited ${Date.now() - t1} ms after the second Ctrl-C`);
  // Ended by the signal itself, which a shell reports as 130 (and a calling script sees as an
  // interrupt, not as a program that chose to exit).
  assert.equal(r.signal, 'SIGINT', JSON.stringify({ code: r.code, signal: r.signal }));
  assert.match(r.stderr, /SIGINT again, exiting now/);
  assert.doesNotMatch(r.stderr, /\n\s+at |Unhandled|internal error/);
  // The exit listeners still ran: the DEST lock is gone.
  assert.equal(existsSync(path.join(dir, 'out', '.bulkget', 'lock')), false);
});

test('--save-failed to a FIFO nobody reads: one line, exit 2, no request; with a reader it works', { timeout: 20_000 }, async (t) => {
  const s = await server(t);
  s.route('/ok.bin');
  const dir = tmp();
  const fifo = path.join(dir, 'failed.fifo');
  execFileSync('mkfifo', [fifo]);
  const r = await runCli(['-d', path.join(dir, 'out'), '--progress', 'none', '--save-failed', fifo, s.url('/missing.bin')]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim(), `bulkget: cannot write --save-failed file ${fifo}: it is a FIFO that no process is reading`);
  assert.equal(s.hits('/missing.bin').length, 0);

  // With a process reading the FIFO, the failed line arrives there.
  const reader = spawn('cat', [fifo]);
  let got = '';
  reader.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
  const readerDone = new Promise((res) => reader.on('close', res));
  await sleep(200); // cat has the FIFO open
  const r2 = await runCli(['-d', path.join(dir, 'out'), '--progress', 'none', '-q', '--save-failed', fifo, s.url('/missing.bin')]);
  assert.equal(r2.code, 1, r2.stderr);
  await readerDone;
  assert.equal(JSON.parse(got.trim()).url, s.url('/missing.bin'));
});

test('--report: an unwritable path is exit 2 before any request; a FIFO is written to, never replaced', { timeout: 20_000 }, async (t) => {
  const s = await server(t);
  s.route('/r.bin');
  const dir = tmp();
  const bad = path.join(dir, 'no-such-folder', 'r.json');
  const r = await runCli(['-d', path.join(dir, 'out'), '--progress', 'none', '--report', bad, s.url('/r.bin')]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim(), `bulkget: cannot write --report file ${bad}: ENOENT`);
  assert.equal(s.hits('/r.bin').length, 0);

  // A FIFO nobody reads: refused up front as well.
  const fifo = path.join(dir, 'report.fifo');
  execFileSync('mkfifo', [fifo]);
  const r2 = await runCli(['-d', path.join(dir, 'out'), '--progress', 'none', '--report', fifo, s.url('/r.bin')]);
  assert.equal(r2.code, 2, r2.stderr);
  assert.equal(r2.stderr.trim(), `bulkget: cannot write --report file ${fifo}: it is a FIFO that no process is reading`);
  assert.equal(s.hits('/r.bin').length, 0);

  // With a reader, the JSON arrives through the FIFO, which is still a FIFO afterwards (a
  // FILE.tmp renamed over it would have replaced it with a plain file).
  const reader = spawn('cat', [fifo]);
  let got = '';
  reader.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
  const readerDone = new Promise((res) => reader.on('close', res));
  await sleep(200);
  const r3 = await runCli(['-d', path.join(dir, 'out'), '--progress', 'none', '-q', '--report', fifo, s.url('/r.bin')]);
  assert.equal(r3.code, 0, r3.stderr);
  await readerDone;
  assert.equal(JSON.parse(got).counts.downloaded, 1);
  assert.ok(statSync(fifo).isFIFO());
  assert.equal(existsSync(fifo + '.tmp'), false);
});
