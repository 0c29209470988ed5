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
    route: narrow
      ? (origin, url) => (fmix32(fnv1a32(origin)) + shardOf(url, k)) % n
      : (_origin, url) => shardOf(url, n),
  };
}
