// The soak: 2,000 files over 3 ports, a fifth of them faulty on their first one or two attempts
// in every way real servers fail (5xx with and without Retry-After, 429, a reset or a FIN
// mid-body, a chunked body cut short, a stall past --timeout), with a fixed seed. Every file must
// come out byte-correct, no partial left, exit 0, and the connection limits held at the servers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startRawServer, type RawAction, type RawServer } from './helpers/raw.js';
import { fetchAll } from './helpers/lib.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('soak');

/** mulberry32: a small seeded generator, so every run of the soak is the same soak. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('soak: 2,000 files, 3 ports, 20% faulty: all byte-correct, no partials, exit 0, limits held', { timeout: 60_000 }, async (t) => {
  const random = rng(20261127);
  const shared = { open: 0, peak: 0 };
  const servers: RawServer[] = [];
  for (let i = 0; i < 3; i++) servers.push(await startRawServer({ shared }));
  t.after(() => Promise.all(servers.map((s) => s.close())));

  const faults: Array<(size: number) => RawAction> = [
    () => ({ status: 500 }),
    () => ({ status: 502 }),
    () => ({ status: 503, headers: { 'Retry-After': '0' } }),
    () => ({ status: 504, headers: { 'Retry-After': '1' } }),
    () => ({ status: 429, headers: { 'Retry-After': '0' } }),
    (size) => ({ cut: Math.floor(size / 3), how: 'rst' }),
    (size) => ({ cut: Math.floor(size / 2), how: 'fin', connectionClose: true }),
    (size) => ({ chunkedCut: Math.floor(size / 2) }),
    (size) => ({ stall: Math.floor(size / 4) }),
  ];
  const want = new Map<string, string>();
  const urls: string[] = [];
  let faulty = 0;
  for (let i = 0; i < 2000; i++) {
    const s = servers[i % 3]!;
    // Mostly small files, some over the 256 KiB that is written as it arrives.
    const size = random() < 0.05 ? 300_000 + Math.floor(random() * 700_000) : 200 + Math.floor(random() * 20_000);
    const script: RawAction[] = [];
    if (random() < 0.2) {
      faulty++;
      const n = random() < 0.5 ? 1 : 2;
      for (let k = 0; k < n; k++) script.push(faults[Math.floor(random() * faults.length)]!(size));
    }
    const name = `f${i}.bin`;
    const f = s.file(`/d/${name}`, { size, script, etag: random() < 0.8 ? `"v${i}"` : undefined, lastModified: undefined });
    want.set(name, createHash('sha256').update(f.body).digest('hex'));
    urls.push(s.url(`/d/${name}`));
  }
  assert.ok(faulty > 350 && faulty < 450, `${faulty} faulty files`);

  const dest = tmp();
  const t0 = performance.now();
  const r = await fetchAll(urls, { dest, limit: 24, perHost: 8, retries: 3, retryDelay: 10, timeout: 1000 });
  const took = performance.now() - t0;
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures.slice(0, 5)));
  assert.equal(r.summary.counts.downloaded, 2000);
  assert.ok(r.summary.retries >= faulty, `${r.summary.retries} retries for ${faulty} faulty files`);
  for (const [name, sum] of want) {
    assert.equal(createHash('sha256').update(readFileSync(path.join(dest, name))).digest('hex'), sum, name);
  }
  assert.equal(readdirSync(dest).length, 2001); // the files and .bulkget
  assert.deepEqual(readdirSync(path.join(dest, '.bulkget', 'partial')), []);
  assert.ok(shared.peak <= 24, `peak ${shared.peak} connections in total`);
  for (const s of servers) assert.ok(s.conns.peak <= 8, `peak ${s.conns.peak} connections to one port`);
  t.diagnostic(`soak took ${Math.round(took)} ms, ${r.summary.retries} retries, peak ${shared.peak} connections`);
  assert.ok(took < 30_000, `took ${Math.round(took)} ms`);
});
