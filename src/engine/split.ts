// How a --jobs run divides its budgets and its items among the jobs, so that no limit is ever
// exceeded in sum: --limit is split, --per-host is split (or, when it is smaller than the number
// of jobs, each endpoint is given to only as many jobs as it allows, one connection each), and
// --rate is divided among the jobs that serve an endpoint. Pure, table-tested.

import { fnv1a32, shardOf } from '../items/shard.js';
import { fmix32 } from '../hash.js';

export interface JobBudget {
  limit: number; // 0 = none
  perHost: number; // 0 = none
  rate: number; // requests per second per endpoint, 0 = none
}

export interface Split {
  /** One budget per job that takes items (fewer than asked when --limit is smaller). */
  budgets: JobBudget[];
  /** The job that downloads `url` (of endpoint `origin`). */
  route(origin: string, url: string): number;
}

function share(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

export function splitBudgets(jobs: number, limit: number, perHost: number, rate: number): Split {
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
    });
  }
  return {
    budgets,
    route: narrow
      ? (origin, url) => (fmix32(fnv1a32(origin)) + shardOf(url, k)) % n
      : (_origin, url) => shardOf(url, n),
  };
}
