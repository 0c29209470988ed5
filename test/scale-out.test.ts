// Scale-out: shards of one list running at once into one shared DEST leave exactly the files of
// one unsharded run; shard runs share DEST but exclude an unsharded run (and shards of another N);
// each shard keeps its own records, and every later run reads them all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, collect, runCli, spawnCli } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { startFaultServer } from './helpers/faults.js';
import { filesOf, tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('scale');


/** A list whose names collide across hosts and paths: index.html, file.bin, a.txt many times over. */
async function collidingList(t: { after: (fn: () => Promise<void>) => void }): Promise<string[]> {
  const servers = await Promise.all([0, 1, 2].map(() => startServer()));
  t.after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const s = servers[i % 3]!;
    lines.push(s.url(`/file/d${i}/index.html?size=${100 + i}`));
    lines.push(s.url(`/file/e${i % 7}/file.bin?size=${200 + i}`));
    if (i % 5 === 0) lines.push(`${s.url(`/file/x${i}?size=50`)} sub/a.txt`);
  }
  // Repeats (same URL, same path) are dropped by every shard alike.
  lines.push(lines[0]!, lines[3]!);
  return lines;
}

test('4 shard processes at once into one DEST leave exactly the files of one unsharded run', { timeout: 60_000 }, async (t) => {
  const lines = await collidingList(t);
  const dir = tmp();
  const list = path.join(dir, 'urls.txt');
  writeFileSync(list, lines.join('\n') + '\n');
  const whole = path.join(dir, 'whole');
  const one = await runCli(['-q', '-i', list, '-d', whole]);
  assert.equal(one.code, 0, one.stderr);

  const shared = path.join(dir, 'shared');
  // What the README's GNU parallel recipe runs, four shards at once (the same spawn parallel makes).
  const runs = await Promise.all([0, 1, 2, 3].map((k) => {
    const c = spawnCli(['-q', '-i', list, '-d', shared, '--shard', `${k}/4`, '--report', path.join(dir, `report-${k}.json`)]);
    c.stdin!.end();
    return collect(c);
  }));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(filesOf(shared), filesOf(whole));
  assert.ok(filesOf(whole).length > 100);
  // Each shard did a share of the work, and the shares add up to the whole.
  const counts = [0, 1, 2, 3].map((k) => JSON.parse(readFileSync(path.join(dir, `report-${k}.json`), 'utf8')).counts.downloaded as number);
  assert.equal(counts.reduce((a, b) => a + b, 0), filesOf(whole).length);
  for (const c of counts) assert.ok(c > 0);
  // One record file per shard.
  assert.deepEqual(readdirSync(path.join(shared, '.bulkget')).filter((n) => n.startsWith('state')).sort(), [0, 1, 2, 3].map((k) => `state-shard-${k}-of-4.jsonl`));
});

test('GNU parallel, as the README runs it (when parallel is installed)', { timeout: 60_000 }, async (t) => {
  if (spawnSync('parallel', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('GNU parallel is not installed');
  const lines = await collidingList(t);
  const dir = tmp();
  writeFileSync(path.join(dir, 'urls.txt'), lines.join('\n') + '\n');
  const bin = path.join(ROOT, 'bin', 'bulkget.js');
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const recipe = /^parallel -j4 '(bulkget [^']+)' ::: 0 1 2 3$/m.exec(readme);
  assert.ok(recipe, 'the README has the one-machine recipe');
  // Not spawnSync: the test's servers live in this process and must go on answering.
  const r = await collect(spawn('parallel', ['-j4', recipe[1]!.replace(/^bulkget /, `${bin} `), ':::', '0', '1', '2', '3'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal(r.code, 0, r.stderr);
  const whole = path.join(dir, 'whole');
  assert.equal((await runCli(['-q', '-i', path.join(dir, 'urls.txt'), '-d', whole])).code, 0);
  assert.deepEqual(filesOf(path.join(dir, 'out')), filesOf(whole));
});

test('locks: shards of one split share DEST; an unsharded run, or shards of another N, are kept out', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  // Slow enough (4 s) that the checks below run while it downloads, even on a busy machine.
  const route = s.route('/slow.bin', { size: 400_000, throttle: { bytes: 10_000, everyMs: 100 } });
  const dest = tmp();
  const first = spawnCli(['-q', '-d', dest, '--shard', '0/2', '-i', '-']);
  const firstDone = collect(first);
  // Both URLs are listed; whichever shard owns slow.bin, one of 0/2 or 1/2 will hold it.
  first.stdin!.end(`${s.url('/slow.bin')}\n`);
  const second = spawnCli(['-q', '-d', dest, '--shard', '1/2', '-i', '-']);
  const secondDone = collect(second);
  second.stdin!.end(`${s.url('/slow.bin')}\n`);
  const t0 = Date.now();
  while (s.hits('/slow.bin').length === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  // While a shard of 2 runs: an unsharded run and a shard of 4 exit 2, naming the holder.
  const whole = await runCli(['-q', '-d', dest, s.url('/other.bin')]);
  assert.equal(whole.code, 2, whole.stderr);
  assert.match(whole.stderr, /is in use by bulkget pid \d+ on /);
  const four = await runCli(['-q', '-d', dest, '--shard', '0/4', s.url('/other.bin')]);
  assert.equal(four.code, 2, four.stderr);
  route.throttle = undefined;
  const [a, b] = await Promise.all([firstDone, secondDone]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(s.hits('/other.bin').length, 0, 'the refused runs made no request');
});

test('records: what the shards recorded is read by a later run of any sharding', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const names = Array.from({ length: 12 }, (_, i) => `/r${i}.bin`);
  for (const n of names) s.route(n, { size: 500 });
  const dest = tmp();
  const list = names.map((n) => s.url(n)).join('\n') + '\n';
  for (const k of [0, 1]) assert.equal((await runCli(['-q', '-d', dest, '--shard', `${k}/2`], { stdin: list })).code, 0);
  // Unsharded, --if-exists update: every request is conditional, from the validators the two
  // shards recorded in their own logs; nothing changed, so nothing is downloaded again.
  const r = await runCli(['-q', '-d', dest, '--if-exists', 'update', '--report', '-'], { stdin: list });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).counts.unchanged, 12);
  for (const n of names) {
    const last = s.hits(n).at(-1)!;
    assert.ok(last.headers['if-none-match'], `${n} asked with its ETag`);
  }
});

test('the Kubernetes Indexed Job in examples/ runs the command the README shows', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const manifest = readFileSync(path.join(ROOT, 'examples', 'kubernetes-indexed-job.yaml'), 'utf8');
  const shown = /^(bulkget .*--shard "\$JOB_COMPLETION_INDEX\/4".*)$/m.exec(readme);
  assert.ok(shown, 'the README shows the pod command');
  const run = /^\s+- (bulkget .*)$/m.exec(manifest);
  assert.ok(run, 'the manifest runs bulkget');
  assert.equal(run[1], shown[1]);
  // An Indexed Job of as many pods as the command has shards.
  assert.match(manifest, /^\s+completionMode: Indexed$/m);
  assert.match(manifest, /^\s+completions: 4$/m);
  // And the command is one the CLI accepts, as the shell of pod 2 runs it (/data is a folder here).
  const data = tmp();
  writeFileSync(path.join(data, 'urls.txt'), 'http://127.0.0.1:9/a.bin\nhttp://127.0.0.1:9/b.bin\nhttp://127.0.0.1:9/c.bin\n');
  const command = shown[1]!.replace(/\/data\//g, `${data}/`).replace(/^bulkget /, `${process.execPath} ${path.join(ROOT, 'dist/cli/main.js')} `);
  const dry = spawnSync('sh', ['-c', `${command} --dry-run`], { encoding: 'utf8', env: { ...process.env, JOB_COMPLETION_INDEX: '2' } });
  assert.equal(dry.status, 0, dry.stderr);
});

test('report merge: the shards\' reports add up to the unsharded run\'s', { timeout: 60_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const lines: string[] = [];
  for (let i = 0; i < 24; i++) {
    s.route(`/m${i}.bin`, { size: 100 + i });
    lines.push(s.url(`/m${i}.bin`));
  }
  for (let i = 0; i < 5; i++) {
    s.route(`/lost${i}.bin`, { script: [404, 404, 404] });
    lines.push(s.url(`/lost${i}.bin`));
  }
  lines.push('ftp://nope/x', 'not a url');
  const dir = tmp();
  const list = path.join(dir, 'urls.txt');
  writeFileSync(list, lines.join('\n') + '\n');
  const whole = await runCli(['-q', '-i', list, '-d', path.join(dir, 'whole'), '--report', path.join(dir, 'whole.json')]);
  assert.equal(whole.code, 1);
  const reports: string[] = [];
  for (const k of [0, 1, 2]) {
    reports.push(path.join(dir, `report-${k}.json`));
    await runCli(['-q', '-i', list, '-d', path.join(dir, 'out'), '--shard', `${k}/3`, '--report', reports[k]!]);
  }
  const merged = await runCli(['report', 'merge', ...reports, '--report', path.join(dir, 'all.json')]);
  assert.equal(merged.code, 1, 'a shard had failures');
  const all = JSON.parse(readFileSync(path.join(dir, 'all.json'), 'utf8'));
  const one = JSON.parse(readFileSync(path.join(dir, 'whole.json'), 'utf8'));
  assert.deepEqual(all.counts, one.counts);
  assert.deepEqual(all.counts, { downloaded: 24, unchanged: 0, skipped: 0, notFound: 5, failed: 0, invalid: 2 });
  assert.equal(all.bytes, one.bytes);
  assert.deepEqual(all.failures.map((f: { url: string }) => f.url).sort(), one.failures.map((f: { url: string }) => f.url).sort());
  assert.deepEqual(all.limits, { total: 300, perHost: 0 });
  // The text report, as a run prints it.
  assert.match(merged.stdout, /^Merged 3 reports\.\n-{20}\n24 files downloaded \(.+\)\.\n5 not found\.\n2 invalid input lines\.\nElapsed time: /);
  // --report - prints JSON instead of the text report (a merged report merges again).
  const again = await runCli(['report', 'merge', path.join(dir, 'all.json'), '--report', '-']);
  assert.equal(again.code, 1);
  assert.equal(JSON.parse(again.stdout).counts.downloaded, 24);
  // Shards that all went well merge to exit 0.
  const cleanList = path.join(dir, 'clean.txt');
  writeFileSync(cleanList, lines.filter((l) => l.includes('/m')).join('\n') + '\n');
  const cleanReports = [0, 1].map((k) => path.join(dir, `clean-${k}.json`));
  for (const k of [0, 1]) assert.equal((await runCli(['-q', '-i', cleanList, '-d', path.join(dir, 'clean'), '--shard', `${k}/2`, '--report', cleanReports[k]!])).code, 0);
  const clean = await runCli(['report', 'merge', ...cleanReports]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /\n24 files downloaded /);
  // Not a report: one line, exit 2.
  for (const bad of [list, path.join(dir, 'missing.json')]) {
    const r = await runCli(['report', 'merge', reports[0]!, bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^bulkget: (cannot read report .*: ENOENT|.* is not a bulkget JSON report: not JSON)\n$/);
  }
});
