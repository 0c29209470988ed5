// How a --jobs run splits its budgets (engine/split.ts): a table of asks, and for each the sums
// the jobs may use, never above what was asked; and where each endpoint's items go.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitBudgets } from '../src/engine/split.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('budgets: limits split, never summed above the ask', () => {
  const table: Array<[jobs: number, limit: number, perHost: number, rate: number, limits: number[], perHosts: number[], rates: number[]]> = [
    [1, 100, 0, 0, [100], [0], [0]],
    [2, 100, 0, 0, [50, 50], [0, 0], [0, 0]],
    [3, 100, 0, 0, [34, 33, 33], [0, 0, 0], [0, 0, 0]],
    [4, 0, 0, 0, [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    // --limit smaller than --jobs: only as many jobs as connections.
    [8, 3, 0, 0, [1, 1, 1], [0, 0, 0], [0, 0, 0]],
    [2, 10, 4, 0, [5, 5], [2, 2], [0, 0]],
    [3, 10, 5, 6, [4, 3, 3], [2, 2, 1], [2, 2, 2]],
    // --per-host smaller than --jobs: an endpoint goes to as many jobs as it allows, one each.
    [4, 100, 1, 8, [25, 25, 25, 25], [1, 1, 1, 1], [8, 8, 8, 8]],
    [4, 100, 2, 8, [25, 25, 25, 25], [1, 1, 1, 1], [4, 4, 4, 4]],
  ];
  for (const [jobs, limit, perHost, rate, limits, perHosts, rates] of table) {
    const s = splitBudgets(jobs, { limit, perHost, rate, maxSpeed: 0, maxHostSpeed: 0 });
    const label = `jobs ${jobs}, limit ${limit}, per-host ${perHost}, rate ${rate}`;
    assert.deepEqual(s.budgets.map((b) => b.limit), limits, label);
    assert.deepEqual(s.budgets.map((b) => b.perHost), perHosts, label);
    assert.deepEqual(s.budgets.map((b) => b.rate), rates, label);
    if (limit > 0) assert.ok(sum(limits) === limit, label);
  }
});

test('speed caps: the run\'s split among all jobs, an endpoint\'s among the jobs that serve it', () => {
  const table: Array<[jobs: number, perHost: number, maxSpeed: number, maxHostSpeed: number, speeds: number, hostSpeeds: number]> = [
    [4, 0, 1_048_576, 524_288, 262_144, 131_072],
    // Each endpoint is served by 2 jobs: each gets half its cap.
    [4, 2, 1_048_576, 524_288, 262_144, 262_144],
    [3, 0, 1000, 0, 1000 / 3, 0],
    [2, 0, 0, 0, 0, 0],
  ];
  for (const [jobs, perHost, maxSpeed, maxHostSpeed, speeds, hostSpeeds] of table) {
    const s = splitBudgets(jobs, { limit: 100, perHost, rate: 0, maxSpeed, maxHostSpeed });
    for (const b of s.budgets) {
      assert.equal(b.maxSpeed, speeds);
      assert.equal(b.maxHostSpeed, hostSpeeds);
    }
    assert.ok(sum(s.budgets.map((b) => b.maxSpeed)) <= maxSpeed + 1e-9);
  }
});

test('routing: every URL to one job; with a narrow --per-host, an endpoint to that many jobs', () => {
  const origins = Array.from({ length: 50 }, (_, i) => `http://h${i}.example:8080`);
  for (const [jobs, perHost] of [[4, 0], [4, 1], [4, 2], [8, 3], [3, 5]] as const) {
    const s = splitBudgets(jobs, { limit: 100, perHost, rate: 0, maxSpeed: 0, maxHostSpeed: 0 });
    const used = new Set<number>();
    for (const origin of origins) {
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const url = `${origin}/f${i}.bin`;
        const j = s.route(origin, url);
        assert.ok(j >= 0 && j < s.budgets.length);
        assert.equal(s.route(origin, url), j, 'the same URL always goes to the same job');
        seen.add(j);
        used.add(j);
      }
      // Connections to one endpoint in all: jobs serving it times each one's per-host budget.
      if (perHost > 0) assert.ok(sum([...seen].map((j) => s.budgets[j]!.perHost)) <= perHost, `${origin}: ${[...seen]}`);
      if (perHost > 0 && perHost < jobs) assert.equal(seen.size, perHost, `${origin} spread over ${perHost} jobs`);
      else assert.equal(seen.size, jobs, `${origin} spread over every job`);
    }
    assert.equal(used.size, jobs, 'every job gets work');
    // Tied to jobs only where --per-host is narrower than the jobs; otherwise any job may take any item.
    assert.equal(s.free, !(perHost > 0 && perHost < jobs));
  }
});

test('routing with a narrow --per-host: the first endpoints spread over the jobs by load, whatever their names hash to', () => {
  // -l 4 -p 2 --jobs 3: budgets 2, 1, 1, each endpoint tied to two jobs. Every triple of hosts must
  // use all three jobs (by a hash alone, one triple in nine sat on the same two: two connections of four).
  for (let t = 0; t < 300; t++) {
    const s = splitBudgets(3, { limit: 4, perHost: 2, rate: 0, maxSpeed: 0, maxHostSpeed: 0 });
    assert.deepEqual(s.budgets.map((b) => b.limit), [2, 1, 1]);
    const jobsOf = new Map<string, Set<number>>();
    for (const port of [1000 + 3 * t, 1001 + 3 * t, 1002 + 3 * t]) {
      const origin = `http://127.0.0.1:${port}`;
      const seen = new Set<number>();
      for (let i = 0; i < 40; i++) seen.add(s.route(origin, `${origin}/f${i}.bin`));
      assert.equal(seen.size, 2, `${origin}: two jobs, one connection each`);
      jobsOf.set(origin, seen);
    }
    const used = new Set([...jobsOf.values()].flatMap((x) => [...x]));
    assert.equal(used.size, 3, `ports ${1000 + 3 * t}-${1002 + 3 * t}: ${JSON.stringify([...jobsOf].map(([o, j]) => [o, [...j]]))}`);
    // Each job can open min(its share, endpoints it serves) at once: all four in sum.
    const open = s.budgets.map((b, j) => Math.min(b.limit, [...jobsOf.values()].filter((x) => x.has(j)).length));
    assert.equal(open.reduce((a, b) => a + b, 0), 4, `connections at once per job: ${open}`);
  }
  // Placed once: asked again (and after others), an endpoint keeps its jobs.
  const s = splitBudgets(4, { limit: 8, perHost: 2, rate: 0, maxSpeed: 0, maxHostSpeed: 0 });
  const first = Array.from({ length: 10 }, (_, i) => s.route(`http://h${i}`, `http://h${i}/x`));
  for (let i = 10; i < 50; i++) s.route(`http://h${i}`, `http://h${i}/x`);
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => s.route(`http://h${i}`, `http://h${i}/x`)), first);
});
