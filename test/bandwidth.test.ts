// --max-speed and --max-host-speed: token buckets across every connection; reading is paused,
// not buffered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fetchAll } from './helpers/lib.js';
import { runCli } from './helpers/cli.js';
import { startFaultServer } from './helpers/faults.js';
import { tempDirs } from './helpers/tmp.js';
import { Bandwidth } from '../src/http/bandwidth.js';

const tmp = tempDirs('bandwidth');
const MiB = 1 << 20;

test('buckets: a burst of 50 ms passes, then bytes wait their time; hosts apart, the total shared', () => {
  const bw = new Bandwidth(1000 * 1000, 0); // 1,000 bytes per ms
  const spend = bw.spender('http://a');
  // 50,000 bytes of burst are free; the next 10,000 wait about 10 ms.
  assert.ok(spend(50_000) <= 0);
  const wait = spend(10_000);
  assert.ok(wait > 8 && wait <= 10.5, `waited ${wait}`);
  // The total is one bucket for every host.
  assert.ok(bw.spender('http://b')(10_000) > 15);

  const hosts = new Bandwidth(0, 1000 * 1000);
  const a = hosts.spender('http://a');
  const b = hosts.spender('http://b');
  assert.ok(a(60_000) > 5);
  assert.ok(b(40_000) <= 0, 'another host has its own bucket');
  assert.ok(hosts.spender('http://a')(1000) > 5, 'a new response from the same host shares its bucket');
  assert.equal(new Bandwidth(0, 0).active, false);
});

test('--max-speed 1M: a 4 MiB body takes 3.5 to 5 s, and arrives whole', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const route = s.route('/big.bin', { size: 4 * MiB });
  const dest = tmp();
  // The run's own elapsed time (the JSON report's), not the child's: starting tsx under a loaded
  // suite took over a second by itself at times.
  const r = await runCli(['-q', '-d', dest, '--max-speed', '1M', '--report', '-', s.url('/big.bin')]);
  assert.equal(r.code, 0, r.stderr);
  const secs = (JSON.parse(r.stdout) as { elapsedMs: number }).elapsedMs / 1000;
  assert.ok(secs >= 3.5 && secs <= 5, `took ${secs.toFixed(2)} s`);
  assert.deepEqual(readFileSync(path.join(dest, 'big.bin')), route.body);
});

test('--max-host-speed 512K: two hosts each get their share, the total is not capped', { timeout: 30_000 }, async (t) => {
  const servers = await Promise.all([startFaultServer(), startFaultServer()]);
  t.after(() => Promise.all(servers.map((s) => s.close())));
  for (const s of servers) s.route('/one.bin', { size: MiB });
  const t0 = performance.now();
  const r = await fetchAll([`${servers[0]!.url('/one.bin')} a.bin`, `${servers[1]!.url('/one.bin')} b.bin`], { dest: tmp(), maxHostSpeed: 512 * 1024 });
  const secs = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  // Each host: 1 MiB at 512 KiB/s is about 2 s; at once, both together also about 2 s, not 4.
  assert.ok(secs >= 1.7 && secs <= 3.2, `took ${secs.toFixed(2)} s`);
});

test('--max-speed is one budget across connections, and across --jobs', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    s.route(`/p${i}.bin`, { size: MiB / 2 });
    lines.push(s.url(`/p${i}.bin`));
  }
  for (const jobs of [1, 2]) {
    const t0 = performance.now();
    const r = await fetchAll(lines, { dest: tmp(), maxSpeed: MiB, jobs });
    const secs = (performance.now() - t0) / 1000;
    assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
    assert.equal(r.summary.bytes, 2 * MiB);
    // 2 MiB at 1 MiB/s in all, four connections at once: never faster than the cap. With --jobs the
    // cap is split evenly, so a job given more of the list takes longer: the URLs' hashes (their
    // port changes every run) may give all four files to one job, 2 MiB at 512 KiB/s, 4 s.
    assert.ok(secs >= 1.7 && secs <= (jobs === 1 ? 3.2 : 6), `--jobs ${jobs}: took ${secs.toFixed(2)} s`);
  }
});

test('a capped body is paused, not timed out: --timeout counts only the server\'s silence', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  s.route('/slow.bin', { size: 256 * 1024 });
  // 256 KiB at 64 KiB/s: waits of up to a second between chunks, longer than --timeout 0.5s.
  const r = await runCli(['-q', '-d', tmp(), '--max-speed', '64K', '--timeout', '0.5s', s.url('/slow.bin')]);
  assert.equal(r.code, 0, r.stderr);
});

test('CLI: bad caps are usage errors', async () => {
  for (const [flag, v] of [['--max-speed', 'fast'], ['--max-host-speed', '-1M'], ['--max-speed', '10 Mbps']]) {
    const r = await runCli(['-d', tmp(), flag!, v!, 'http://127.0.0.1:9/x']);
    assert.equal(r.code, 2, `${flag} ${v}`);
    assert.match(r.stderr, new RegExp(`^bulkget: ${flag} must be a size`));
  }
});
