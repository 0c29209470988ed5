// --jobs N: one list read and named once, downloaded by N threads, with the budgets split so that
// the server never sees more than was asked; one report, one --save-failed, one exit status;
// Ctrl-C stops all; a job that dies is reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { collect, runCli, runWithReport, spawnCli } from './helpers/cli.js';
import { fetchAll } from './helpers/lib.js';
import { startServer, type Counter } from './helpers/server.js';
import { startFaultServer } from './helpers/faults.js';
import { filesOf, partialOf, tempDirs } from './helpers/tmp.js';
import { shardOf } from '../src/items/shard.js';

const tmp = tempDirs('jobs');


test('--jobs 3 leaves the files of a one-job run, names that collide across jobs included', { timeout: 60_000 }, async (t) => {
  const servers = await Promise.all([0, 1, 2].map(() => startServer()));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const urls: string[] = [];
  for (let i = 0; i < 80; i++) {
    const s = servers[i % 3]!;
    urls.push(s.url(`/file/d${i}/index.html?size=${100 + i}`));
    urls.push(s.url(`/file/e${i % 7}/file.bin?size=${200 + i}`));
  }
  urls.push(urls[0]!);
  const oneDest = tmp();
  const one = await fetchAll(urls, { dest: oneDest });
  const threeDest = tmp();
  const three = await fetchAll(urls, { dest: threeDest, jobs: 3 });
  assert.equal(three.code, 0, JSON.stringify(three.summary.failures));
  assert.deepEqual(three.summary.counts, one.summary.counts);
  assert.equal(three.summary.bytes, one.summary.bytes);
  const dirOf = (r: typeof one) => r.results.map((x) => `${x.url} -> ${x.out}`).sort();
  assert.deepEqual(dirOf(three), dirOf(one), 'every URL got the name a one-job run gives it');
  assert.equal(three.results.length, 160);
  // Each job kept its own records.
  const logs = readdirSync(path.join(threeDest, '.bulkget')).filter((n) => n.startsWith('state')).sort();
  assert.deepEqual(logs, ['state-job-1.jsonl', 'state-job-2.jsonl', 'state-job-3.jsonl']);
  // And the files themselves are the same, byte for byte.
  assert.equal(filesOf(oneDest).length, 160);
  assert.deepEqual(filesOf(threeDest), filesOf(oneDest));
});

test('--jobs 3 --limit 4 --per-host 2: the servers never see more than 4 in all and 2 each', { timeout: 60_000 }, async (t) => {
  const group: Counter = { open: 0, peak: 0 };
  const servers = await Promise.all([0, 1, 2].map(() => startServer({ group })));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const urls: string[] = [];
  for (let i = 0; i < 12; i++) for (const s of servers) urls.push(s.url(`/slow/p${s.port}-${i}.bin?ms=600&size=2000`));
  const r = await fetchAll(urls, { dest: tmp(), jobs: 3, limit: 4, perHost: 2 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(r.summary.counts.downloaded, 36);
  assert.ok(group.peak <= 4, `peak ${group.peak}`);
  // (Each answer takes 600 ms, so the jobs' shares overlap even when a job thread is slow to
  // boot: under tsx on a loaded machine, 100 ms answers let the first job finish alone, and 300 ms
  // answers once let two of them.)
  assert.ok(group.peak >= 3, `the budget was used: peak ${group.peak}`);
  for (const s of servers) assert.ok(s.conns.peak <= 2, `port ${s.port}: ${s.conns.peak}`);
  assert.deepEqual(r.summary.limits, { total: 4, perHost: 2 });
});

test('--jobs 2: two big files go to two jobs, even when their URLs hash alike', { timeout: 60_000 }, async (t) => {
  // --limit 2 gives each job one connection: the two answers overlap only if each job has one.
  const s = await startServer();
  t.after(() => s.close());
  const urls: string[] = [];
  for (let i = 0; urls.length < 2; i++) {
    const url = s.url(`/slow/big${i}.bin?ms=2000&size=5000`);
    if (shardOf(url, 2) === 0) urls.push(url);
  }
  const r = await fetchAll(urls, { dest: tmp(), jobs: 2, limit: 2 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(s.conns.peak, 2, 'both downloads ran at once, one per job');
});

test('--per-host 1 with --jobs 4: each host is served by one job, one connection', { timeout: 60_000 }, async (t) => {
  const group: Counter = { open: 0, peak: 0 };
  const servers = await Promise.all([0, 1].map(() => startServer({ group })));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const urls: string[] = [];
  for (let i = 0; i < 10; i++) for (const s of servers) urls.push(s.url(`/slow/h${s.port}-${i}.bin?ms=60&size=500`));
  const r = await fetchAll(urls, { dest: tmp(), jobs: 4, perHost: 1 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  for (const s of servers) assert.equal(s.conns.peak, 1, `port ${s.port}`);
});

test('CLI --jobs 2: one JSON report, one --save-failed, one exit status', { timeout: 60_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    s.route(`/ok${i}.bin`, { size: 300 + i });
    lines.push(s.url(`/ok${i}.bin`));
  }
  for (let i = 0; i < 6; i++) {
    s.route(`/gone${i}.bin`, { script: [404, 404] });
    lines.push(s.url(`/gone${i}.bin`));
  }
  lines.push('not a url at all');
  const dir = tmp();
  const failed = path.join(dir, 'failed.jsonl');
  const r = await runWithReport(['-d', path.join(dir, 'out'), '--jobs', '2', '--save-failed', failed], { stdin: lines.join('\n') + '\n' });
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.report.counts, { downloaded: 30, unchanged: 0, skipped: 0, notFound: 6, failed: 0, invalid: 1 });
  const saved = readFileSync(failed, 'utf8').trim().split('\n');
  assert.equal(saved.length, 7);
  assert.equal(saved.filter((l) => l.includes('/gone')).length, 6);
  assert.equal(readdirSync(path.join(dir, 'out')).filter((n) => n.endsWith('.bin')).length, 30);
});

test('CLI --jobs: bad values are a usage error; auto is accepted', async (t) => {
  for (const v of ['0', 'x', '-1', '1000']) {
    const r = await runCli(['-d', tmp(), '--jobs', v, 'http://127.0.0.1:9/a']);
    assert.equal(r.code, 2, `--jobs ${v}: ${r.stderr}`);
    assert.match(r.stderr, /--jobs must be/);
  }
  const s = await startServer();
  t.after(() => s.close());
  const r = await runWithReport(['-d', tmp(), '--jobs', 'auto', s.url('/file/a.bin?size=10')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.report.counts.downloaded, 1);
});

test('Ctrl-C stops every job: exit 130, partial files kept, the lock released', { timeout: 60_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    s.route(`/big${i}.bin`, { size: 2_000_000, throttle: { bytes: 20_000, everyMs: 50 } });
    lines.push(s.url(`/big${i}.bin`));
  }
  const dest = tmp();
  const child = spawnCli(['-d', dest, '--jobs', '2', '--progress', 'none', '-i', '-']);
  const done = collect(child);
  child.stdin!.end(lines.join('\n') + '\n');
  const t0 = Date.now();
  const started = () => [0, 1, 2, 3].every((i) => s.hits(`/big${i}.bin`).length > 0);
  while (!started() && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(started(), 'all four downloads started');
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stdout, /Elapsed time/);
  assert.doesNotMatch(r.stderr, /\n\s+at |Unhandled|internal error/);
  for (let i = 0; i < 4; i++) {
    assert.ok(!existsSync(path.join(dest, `big${i}.bin`)));
    assert.ok(statSync(partialOf(dest, `big${i}.bin`)).size > 0, `big${i}.bin kept for resume`);
  }
  assert.ok(!existsSync(path.join(dest, '.bulkget', 'lock')), 'lock released');
});

test('a job that cannot run is reported, not hidden: what it held fails with the reason, the rest goes on', { timeout: 60_000 }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dest = tmp();
  // Job 2's record file cannot be opened (a folder holds its name): that job ends at its start.
  mkdirSync(path.join(dest, '.bulkget', 'state-job-2.jsonl'), { recursive: true });
  const urls = Array.from({ length: 40 }, (_, i) => s.url(`/file/j${i}.bin?size=100`));
  const list = path.join(dest, 'list.txt');
  writeFileSync(list, urls.join('\n') + '\n');
  const failed = path.join(dest, 'failed.jsonl');
  const r = await runWithReport(['-d', dest, '--jobs', '2', '-i', list, '--save-failed', failed]);
  assert.equal(r.code, 1, r.stderr);
  const { counts, failures } = r.report;
  assert.ok(counts.failed > 0, 'items sent to the job before it died failed');
  for (const f of failures) assert.match(f.error, /^job 2 of 2 ended unexpectedly: cannot open /);
  // Nothing is lost: every URL was downloaded, or failed and was saved for a later run.
  assert.equal(counts.downloaded + counts.failed, 40);
  assert.equal(readFileSync(failed, 'utf8').trim().split('\n').length, counts.failed);
  // The later run (one job) gets the rest.
  const again = await runWithReport(['-d', dest, '-i', failed]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.report.counts.downloaded, counts.failed);
  assert.equal(readdirSync(dest).filter((n) => n.endsWith('.bin')).length, 40);
});

test('jobSetup: every job thread imports the module and calls its setupJob; the CLI points it at its memory policy', { timeout: 60_000 }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const log = path.join(tmp(), 'setup.log');
  process.env.BULKGET_TEST_JOB_SETUP = log;
  t.after(() => delete process.env.BULKGET_TEST_JOB_SETUP);
  const urls = Array.from({ length: 8 }, (_, i) => s.url(`/file/js${i}.bin?size=100`));
  const setup = new URL('./helpers/job-setup.mjs', import.meta.url).href;
  const r = await fetchAll(urls, { dest: tmp(), jobs: 2, jobSetup: setup });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2, lines.join('; '));
  assert.equal(new Set(lines).size, 2, 'two threads');
  for (const l of lines) assert.match(l, /^thread \d+ bytes number$/);
  // The CLI's own module is one a thread can import, with the function it needs.
  const { jobSetupUrl } = await import('../src/cli/memory.js');
  const { setupJob } = await import(jobSetupUrl());
  assert.equal(typeof setupJob, 'function');
  // Not a file URL: refused at once, as any bad option is.
  await assert.rejects(fetchAll(urls, { dest: tmp(), jobs: 2, jobSetup: './setup.mjs' }), /jobSetup must be a file: URL/);
});
