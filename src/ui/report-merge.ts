// `bulkget report merge`: the JSON reports of the shards of one list (Kubernetes pods, cron hosts)
// as one report. Pure: reports in, one summary out, or the reason a file is not a report.

import type { FailureEntry, HostEntry, Summary } from '../types.js';

const COUNTS = ['downloaded', 'unchanged', 'skipped', 'notFound', 'failed', 'invalid'] as const;

/** A report as --report writes it (hosts: when the run wrote them). */
export type JsonReport = Omit<Summary, 'failuresLeftOut' | 'interrupted' | 'hosts'> & { interrupted?: boolean; hosts?: HostEntry[] };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The report in `v`, or why it is not one (a one-line reason). */
export function checkReport(v: unknown): JsonReport | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const r = v as Record<string, unknown>;
  if (typeof r.startedAt !== 'string' || Number.isNaN(Date.parse(r.startedAt))) return '"startedAt" is not a date';
  for (const k of ['elapsedMs', 'bytes', 'retries'] as const) if (!isCount(r[k])) return `"${k}" is not a number`;
  const counts = r.counts as Record<string, unknown> | undefined;
  if (counts === null || typeof counts !== 'object') return '"counts" is missing';
  for (const k of COUNTS) if (!isCount(counts[k])) return `"counts.${k}" is not a number`;
  const limits = r.limits as Record<string, unknown> | undefined;
  if (limits === null || typeof limits !== 'object' || !isCount(limits.total) || !isCount(limits.perHost)) return '"limits" is missing';
  if (!Array.isArray(r.failures)) return '"failures" is not a list';
  if (r.hosts !== undefined && !Array.isArray(r.hosts)) return '"hosts" is not a list';
  return v as JsonReport;
}

/** Summed, or none (0) when any shard had none. */
const budget = (xs: number[]) => (xs.some((x) => x === 0) ? 0 : xs.reduce((a, b) => a + b, 0));

/** One entry per host, summed; busiest (most items) first, at most `keep`. */
export function mergeHosts(lists: HostEntry[][], keep = 100): HostEntry[] {
  const by = new Map<string, HostEntry>();
  for (const list of lists) {
    for (const h of list) {
      const m: HostEntry = by.get(h.host) ?? { host: h.host, downloaded: 0, failed: 0, bytes: 0, retries: 0 };
      m.downloaded += h.downloaded || 0;
      m.failed += h.failed || 0;
      m.bytes += h.bytes || 0;
      m.retries += h.retries || 0;
      by.set(h.host, m);
    }
  }
  // The reports do not say how many items a host had in all: downloaded and failed stand for it.
  return [...by.values()].sort((a, b) => b.downloaded + b.failed - (a.downloaded + a.failed) || b.bytes - a.bytes).slice(0, keep);
}

/**
 * The shards' reports as one: counts, bytes and retries summed; connection budgets summed (the
 * shards ran at once); the time from the first start to the last end; every failure, in the
 * order of the files. `names` label a shard's reason for stopping.
 */
export function mergeReports(reports: JsonReport[], names: string[], version: string): Summary {
  const starts = reports.map((r) => Date.parse(r.startedAt));
  const first = Math.min(...starts);
  const last = Math.max(...reports.map((r, i) => starts[i]! + r.elapsedMs));
  const counts = { downloaded: 0, unchanged: 0, skipped: 0, notFound: 0, failed: 0, invalid: 0 };
  const failures: FailureEntry[] = [];
  const stopped: string[] = [];
  for (const [i, r] of reports.entries()) {
    for (const k of COUNTS) counts[k] += r.counts[k];
    for (const f of r.failures) failures.push(f);
    if (r.stopped) stopped.push(`${names[i]}: ${r.stopped}`);
  }
  const summary: Summary = {
    version,
    startedAt: new Date(first).toISOString(),
    elapsedMs: last - first,
    limits: { total: budget(reports.map((r) => r.limits.total)), perHost: budget(reports.map((r) => r.limits.perHost)) },
    counts,
    bytes: reports.reduce((a, r) => a + r.bytes, 0),
    retries: reports.reduce((a, r) => a + r.retries, 0),
    failures,
    hosts: mergeHosts(reports.map((r) => r.hosts ?? [])),
    failuresLeftOut: 0,
    interrupted: reports.some((r) => r.interrupted === true),
  };
  if (stopped.length) summary.stopped = stopped.join('; ');
  return summary;
}
