// How a --jobs run divides its budgets and its items among the jobs, so that no limit is ever
// exceeded in sum: --limit and --max-speed are split, --per-host is split (or, when it is smaller
// than the number of jobs, each endpoint is given to only as many jobs as it allows, one
// connection each), and --rate and --max-host-speed are divided among the jobs that serve an
// endpoint. Pure, table-tested.

import { fnv1a32, shardOf } from '../items/shard.js';
import { fmix32 } from '../hash.js';

/** What is split: the run's budgets (0 = none). */
export interface JobBudget {
  limit: number;
  perHost: number;
  /** Requests per second per endpoint. */
  rate: number;
  /** Bytes per second, the whole run and each endpoint. */
  maxSpeed: number;
  maxHostSpeed: number;
}

export interface Split {
  /** One budget per job that takes items (fewer than asked when --limit is smaller). */
  budgets: JobBudget[];
  /** The job that downloads `url` (of endpoint `origin`), where the endpoint is tied to some jobs. */
  route(origin: string, url: string): number;
  /**
   * Whether any job may take any item (no --per-host narrower than the jobs): then the least busy
   * one does, so two big files go to two jobs (a hash put both of 2 URLs in one job half the time).
   */
  free: boolean;
}

function share(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

export function splitBudgets(jobs: number, asked: JobBudget): Split {
  const { limit, perHost, rate, maxSpeed, maxHostSpeed } = asked;
  const n = limit > 0 ? Math.min(jobs, limit) : jobs;
  // Endpoints go to `k` jobs each: all of them, or as many as --per-host allows.
  const narrow = perHost > 0 && perHost < n;
  const k = narrow ? perHost : n;
  const budgets: JobBudget[] = [];
  for (let i = 0; i < n; i++) {
    budgets.push({
      limit: limit > 0 ? share(limit, n, i) : 0,
      perHost: perHost === 0 ? 0 : narrow ? 1 : share(perHost, n, i),
      rate: rate > 0 ? rate / k : 0,
      maxSpeed: maxSpeed / n,
      maxHostSpeed: maxHostSpeed / k,
    });
  }
  return {
    budgets,
    free: !narrow,
    route: narrow ? tiedRoute(budgets, k) : (_origin, url) => shardOf(url, n),
  };
}

// Endpoints placed by load, the first this many of a run; later ones by a hash of their origin
// (a list over millions of hosts must not keep one entry each). A placement never changes: an
// endpoint served by other jobs later would exceed --per-host while the first ones still work.
const MAX_PLACED = 4096;

/**
 * Routing where each endpoint is tied to `k` consecutive jobs: a new endpoint goes to the `k` jobs
 * with the fewest endpoints for their --limit share. By a hash alone, three hosts over three jobs
 * (-l 4 -p 2: budgets 2, 1, 1) all landed on the same two jobs one time in nine, and the run used
 * two connections of its four (seen as a flaky test: 36 slow files took 9.7 s instead of ~5).
 */
function tiedRoute(budgets: JobBudget[], k: number): Split['route'] {
  const n = budgets.length;
  const endpoints = new Array<number>(n).fill(0);
  const starts = new Map<string, number>();
  const load = (j: number) => (endpoints[j]! + 1) / Math.max(1, budgets[j]!.limit);
  const place = (origin: string): number => {
    let start = starts.get(origin);
    if (start !== undefined) return start;
    if (starts.size >= MAX_PLACED) return fmix32(fnv1a32(origin)) % n;
    let best = Infinity;
    start = 0;
    for (let s = 0; s < n; s++) {
      // The busiest of the k jobs decides; the sum breaks ties; the lowest start breaks the rest.
      let worst = 0;
      let sum = 0;
      for (let i = 0; i < k; i++) {
        const l = load((s + i) % n);
        worst = Math.max(worst, l);
        sum += l;
      }
      const cost = worst * 1e6 + sum;
      if (cost < best) {
        best = cost;
        start = s;
      }
    }
    for (let i = 0; i < k; i++) endpoints[(start + i) % n]!++;
    starts.set(origin, start);
    return start;
  };
  return (origin, url) => (place(origin) + shardOf(url, k)) % n;
}
