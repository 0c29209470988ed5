// The report's `hosts`: each endpoint's share of the run in the JSON report (busiest first, at most
// 100, the SPEC's keys), and in the text report a short block of the most failing and the slowest
// hosts when more than one host was involved and something failed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, runWithReport } from './helpers/cli.js';
import { startFaultServer, type FaultServer } from './helpers/faults.js';
import { tempDirs } from './helpers/tmp.js';
import { HostTally } from '../src/engine/hosts.js';
import { hostsBlock } from '../src/ui/text-report.js';
import type { ItemResult, Outcome } from '../src/types.js';

const tmp = tempDirs('hosts');
const origin = (s: FaultServer) => s.url('/').replace(/\/$/, '');

async function threeHosts(t: { after: (fn: () => Promise<void>) => void }) {
  const [good, slow, bad] = await Promise.all([startFaultServer(), startFaultServer(), startFaultServer()]);
  t.after(async () => {
    await Promise.all([good, slow, bad].map((s) => s!.close()));
  });
  const urls: string[] = [];
  for (let i = 0; i < 6; i++) {
    good!.route(`/g${i}.bin`, { size: 20_000 });
    slow!.route(`/s${i}.bin`, { size: 20_000, throttle: { bytes: 5_000, everyMs: 50 } });
    urls.push(good!.url(`/g${i}.bin`), slow!.url(`/s${i}.bin`));
  }
  for (let i = 0; i < 3; i++) {
    bad!.route(`/b${i}.bin`, { script: [503, 503, 503, 503] });
    urls.push(bad!.url(`/b${i}.bin`));
  }
  bad!.route('/gone.bin', { script: [404] });
  urls.push(bad!.url('/gone.bin'));
  return { good: good!, slow: slow!, bad: bad!, urls };
}

test('JSON report: one entry per endpoint, busiest first, the SPEC\'s keys', { timeout: 30_000 }, async (t) => {
  const { good, slow, bad, urls } = await threeHosts(t);
  const r = await runWithReport(['-d', tmp(), '-r', '1', '--retry-delay', '10ms', ...urls]);
  assert.equal(r.code, 1);
  const hosts = (r.report as unknown as { hosts: Array<Record<string, unknown>> }).hosts;
  assert.deepEqual(hosts.map((h) => h.host).slice(0, 2).sort(), [origin(good), origin(slow)].sort());
  const of = (s: FaultServer) => hosts.find((h) => h.host === origin(s))!;
  assert.deepEqual(of(good), { host: origin(good), downloaded: 6, failed: 0, bytes: 120_000, retries: 0 });
  assert.deepEqual(of(slow), { host: origin(slow), downloaded: 6, failed: 0, bytes: 120_000, retries: 0 });
  // Three 503s (each retried once) and a 404: four failed, three retries.
  assert.deepEqual(of(bad), { host: origin(bad), downloaded: 0, failed: 4, bytes: of(bad).bytes, retries: 3 });
  assert.equal(hosts.at(-1)!.host, origin(bad), 'fewest items last');
});

test('text report: the failing host first, then the slowest, when several hosts and a failure', { timeout: 30_000 }, async (t) => {
  const { slow, bad, urls } = await threeHosts(t);
  const r = await runCli(['-d', tmp(), '--progress', 'none', '-r', '1', '--retry-delay', '10ms', ...urls]);
  assert.equal(r.code, 1);
  const block = r.stdout.slice(r.stdout.indexOf('Hosts with'));
  const lines = block.split('\n');
  assert.equal(lines[0], 'Hosts with the most failures:');
  assert.match(lines[1]!, new RegExp(`^  ${origin(bad)}  4 of 4 failed, 3 retries$`));
  assert.equal(lines[2], 'Slowest hosts (per connection):');
  assert.ok(lines[3]!.startsWith(`  ${origin(slow)}  `), lines[3]);
  assert.match(r.stdout, /\nElapsed time: /);
});

test('text report: no hosts block for one host, or when nothing failed', { timeout: 30_000 }, async (t) => {
  const [a, b] = await Promise.all([startFaultServer(), startFaultServer()]);
  t.after(async () => {
    await Promise.all([a!.close(), b!.close()]);
  });
  a!.route('/x.bin', { size: 100 });
  b!.route('/y.bin', { size: 100 });
  a!.route('/gone.bin', { script: [404] });
  const clean = await runCli(['-d', tmp(), '--progress', 'none', a!.url('/x.bin'), b!.url('/y.bin')]);
  assert.equal(clean.code, 0);
  assert.doesNotMatch(clean.stdout, /Hosts with|Slowest/);
  const one = await runCli(['-d', tmp(), '--progress', 'none', a!.url('/x.bin'), a!.url('/gone.bin')]);
  assert.equal(one.code, 1);
  assert.doesNotMatch(one.stdout, /Hosts with|Slowest/);
});

test('report merge sums the shards\' hosts', { timeout: 30_000 }, async (t) => {
  const { good, urls } = await threeHosts(t);
  const dir = tmp();
  const list = path.join(dir, 'urls.txt');
  writeFileSync(list, urls.join('\n') + '\n');
  for (const k of [0, 1]) await runCli(['-q', '-d', path.join(dir, 'out'), '-i', list, '-r', '0', '--shard', `${k}/2`, '--report', path.join(dir, `r${k}.json`)]);
  await runCli(['report', 'merge', path.join(dir, 'r0.json'), path.join(dir, 'r1.json'), '--report', path.join(dir, 'all.json')]);
  const all = JSON.parse(readFileSync(path.join(dir, 'all.json'), 'utf8'));
  assert.equal(all.hosts.length, 3);
  assert.deepEqual(all.hosts.find((h: { host: string }) => h.host === origin(good)), { host: origin(good), downloaded: 6, failed: 0, bytes: 120_000, retries: 0 });
});

test('tally: bounded, busiest kept; block: failing by count, slowest by rate', () => {
  const tally = new HostTally();
  const result = (url: string, outcome: Outcome, bytes = 0, timeMs = 0) =>
    ({ item: { seq: 0, url: new URL(url), out: 'x', source: 's', line: 1 }, url, out: 'x', outcome, attempts: 1, bytes, timeMs }) as ItemResult;
  for (let i = 0; i < 5; i++) tally.result(result('http://busy.example/a', 'downloaded', 10));
  for (let i = 0; i < 25_000; i++) tally.result(result(`http://h${i}.example/a`, 'failed'));
  const top = tally.top();
  assert.equal(top.length, 100);
  assert.deepEqual(top[0], { host: 'http://busy.example', downloaded: 5, failed: 0, bytes: 50, retries: 0, items: 5, timeMs: 0 });
  const lines = hostsBlock([
    { host: 'http://a', downloaded: 9, failed: 1, bytes: 1000, retries: 0, items: 10, timeMs: 1000 },
    { host: 'http://b', downloaded: 1, failed: 5, bytes: 1000, retries: 2, items: 6, timeMs: 100 },
    { host: 'http://c', downloaded: 3, failed: 0, bytes: 10, retries: 0, items: 3, timeMs: 1000 },
  ]);
  assert.deepEqual(lines, [
    'Hosts with the most failures:',
    '  http://b  5 of 6 failed, 2 retries',
    '  http://a  1 of 10 failed',
    'Slowest hosts (per connection):',
    '  http://c  10 B/s',
    '  http://a  1.0 kB/s',
    '  http://b  10.0 kB/s',
  ]);
});
