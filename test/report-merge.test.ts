// Merging shards' JSON reports (ui/report-merge.ts): sums, time span, budgets, checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReport, mergeHosts, mergeReports, type JsonReport } from '../src/ui/report-merge.js';

function report(over: Partial<JsonReport>): JsonReport {
  return {
    version: '0.1.0',
    startedAt: '2026-11-27T10:00:00.000Z',
    elapsedMs: 1000,
    limits: { total: 100, perHost: 0 },
    counts: { downloaded: 1, unchanged: 0, skipped: 0, notFound: 0, failed: 0, invalid: 0 },
    bytes: 10,
    retries: 0,
    failures: [],
    ...over,
  };
}

test('merge: counts summed, time from the first start to the last end, budgets summed', () => {
  const a = report({ startedAt: '2026-11-27T10:00:00.000Z', elapsedMs: 5000, counts: { downloaded: 3, unchanged: 1, skipped: 0, notFound: 1, failed: 0, invalid: 0 }, bytes: 300, retries: 2 });
  const b = report({
    startedAt: '2026-11-27T10:00:02.000Z',
    elapsedMs: 6000,
    limits: { total: 50, perHost: 4 },
    counts: { downloaded: 2, unchanged: 0, skipped: 4, notFound: 0, failed: 1, invalid: 1 },
    bytes: 200,
    failures: [{ url: 'http://x/y', status: 500, error: 'HTTP 500', attempts: 4, kind: 'failed' }],
    stopped: 'the disk is full',
  });
  const summary = mergeReports([a, b], ['a.json', 'b.json'], '9.9.9');
  assert.equal(summary.version, '9.9.9');
  assert.equal(summary.startedAt, '2026-11-27T10:00:00.000Z');
  assert.equal(summary.elapsedMs, 8000);
  assert.deepEqual(summary.counts, { downloaded: 5, unchanged: 1, skipped: 4, notFound: 1, failed: 1, invalid: 1 });
  assert.equal(summary.bytes, 500);
  assert.equal(summary.retries, 2);
  // One shard had no per-host cap: the whole had none.
  assert.deepEqual(summary.limits, { total: 150, perHost: 0 });
  assert.equal(summary.failures.length, 1);
  assert.equal(summary.stopped, 'b.json: the disk is full');
  assert.equal(summary.interrupted, false);
  assert.equal(mergeReports([a, report({ interrupted: true })], ['a', 'b'], '1').interrupted, true);
});

test('merge: hosts summed per host, busiest first, at most 100', () => {
  const hosts = mergeHosts([
    [{ host: 'a:80', downloaded: 1, failed: 0, bytes: 5, retries: 0 }, { host: 'b:80', downloaded: 2, failed: 1, bytes: 9, retries: 3 }],
    [{ host: 'a:80', downloaded: 4, failed: 1, bytes: 5, retries: 1 }],
    Array.from({ length: 150 }, (_, i) => ({ host: `h${i}:80`, downloaded: 0, failed: 0, bytes: i, retries: 0 })),
  ]);
  assert.equal(hosts.length, 100);
  assert.deepEqual(hosts[0], { host: 'a:80', downloaded: 5, failed: 1, bytes: 10, retries: 1 });
  assert.deepEqual(hosts[1], { host: 'b:80', downloaded: 2, failed: 1, bytes: 9, retries: 3 });
  assert.equal(hosts[2]!.host, 'h149:80');
});

test('check: what is not a report says why', () => {
  const table: Array<[unknown, string]> = [
    [null, 'not a JSON object'],
    [[1], 'not a JSON object'],
    [{ ...report({}), startedAt: 'yesterday' }, '"startedAt" is not a date'],
    [{ ...report({}), bytes: -1 }, '"bytes" is not a number'],
    [{ ...report({}), counts: { downloaded: 1 } }, '"counts.unchanged" is not a number'],
    [{ ...report({}), limits: undefined }, '"limits" is missing'],
    [{ ...report({}), failures: {} }, '"failures" is not a list'],
  ];
  for (const [v, why] of table) assert.equal(checkReport(v), why);
  assert.equal(typeof checkReport(report({})), 'object');
});
