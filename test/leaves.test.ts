// The small leaves that stand in for node:crypto and performance.now() (src/unique.ts,
// src/clock.ts): they must do the job of what they replace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueHex } from '../src/unique.js';
import { nowMs } from '../src/clock.js';

test('uniqueHex: exactly the digits asked for, hex only, and no repeat in 20,000 draws', () => {
  for (const n of [1, 8, 12, 16, 33]) {
    const s = uniqueHex(n);
    assert.equal(s.length, n);
    assert.match(s, /^[0-9a-f]+$/);
  }
  const seen = new Set(Array.from({ length: 20_000 }, () => uniqueHex(12)));
  assert.equal(seen.size, 20_000);
  // Every digit turns up in every position (no digit stuck at 0 by the padding).
  const first = new Set(Array.from({ length: 2_000 }, () => uniqueHex(12)[0]));
  assert.equal(first.size, 16);
});

test('nowMs: milliseconds on a monotonic clock, spans as performance.now() measures them', async () => {
  // Each nowMs() reading is bracketed by two of performance.now(), so a pause anywhere (a busy
  // CI machine) widens the bounds instead of failing the check.
  const p0 = performance.now();
  const a = nowMs();
  const p1 = performance.now();
  await sleep(30);
  const q0 = performance.now();
  const b = nowMs();
  const q1 = performance.now();
  const span = b - a;
  assert.ok(span >= q0 - p1 - 0.5 && span <= q1 - p0 + 0.5, `nowMs span ${span} ms, performance.now between ${q0 - p1} and ${q1 - p0}`);
  assert.ok(span >= 29, `slept 30 ms, measured ${span}`);
  let last = nowMs();
  for (let i = 0; i < 10_000; i++) {
    const t = nowMs();
    assert.ok(t >= last);
    last = t;
  }
});
