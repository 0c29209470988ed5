// One job of a --jobs run, on a thread of its own: the engine, fed already-named items by the
// run (jobs.ts), with its share of the budgets; it reports results, retries and counters back.
// The run holds DEST's lock; this job writes its own record file.

import { parentPort, workerData } from 'node:worker_threads';
import { LINE_BATCHES, newStats, type BatchedLines, type RawLine, type Reporter } from '../types.js';
import { resolveOptions, type DownloadOptions, type Internal } from './options.js';
import type { JobBudget } from './split.js';
import { runEngine } from './run.js';
import { errorCode } from '../errors.js';

export interface JobData {
  options: DownloadOptions;
  budget: JobBudget;
  tag: string;
  /** How many jobs the run has: each takes its share of the write-batch memory. */
  jobs: number;
}

/** An item as the run sends it: [seq, url, out, sha256, size, label, given (1: out came from the input)]. */
export type JobItem = [number, string, string, string | null, number | null, string | null, 0 | 1];
/** A result as the job sends it back: [seq, outcome, status, error, attempts, bytes, out, timeMs]. */
export type JobResult = [number, string, number | null, string | null, number, number, string, number];

export type ToJob = { t: 'items'; items: JobItem[] } | { t: 'end' } | { t: 'abort' };
export type FromJob =
  | { t: 'results'; rs: JobResult[] }
  | { t: 'retry'; seq: number; attempt: number; delayMs: number; reason: string }
  | { t: 'stats'; bytes: number; bytesDone: number; retries: number; openConnections: number; active: number; awaited: number }
  | { t: 'end'; interrupted: boolean; stopped?: string }
  | { t: 'failed'; message: string; exitCode?: number; code?: string };

const port = parentPort!;
const data = workerData as JobData;
const post = (m: FromJob) => port.postMessage(m);

// Items come in batches; the engine takes all that came at once (LINE_BATCHES).
let queue: RawLine[] = [];
let ended = false;
let wake: (() => void) | undefined;
const ac = new AbortController();
port.on('message', (m: ToJob) => {
  if (m.t === 'items') {
    for (const [seq, url, out, sha256, size, label, given] of m.items) {
      const spec = { url, out, ...(sha256 ? { sha256 } : {}), ...(size !== null ? { size } : {}), ...(label ? { label } : {}) };
      // The run's sequence number rides in `line`: results go back by it.
      queue.push({ text: '', spec, source: 'job', line: seq, given: given === 1 });
    }
  } else if (m.t === 'end') ended = true;
  else ac.abort();
  wake?.();
});
async function nextBatch(): Promise<IteratorResult<readonly RawLine[]>> {
  while (queue.length === 0 && !ended && !ac.signal.aborted) await new Promise<void>((r) => (wake = r));
  if (queue.length === 0) return { value: undefined, done: true };
  const taken = queue;
  queue = [];
  return { value: taken, done: false };
}
const lines: BatchedLines = {
  [LINE_BATCHES]: () => ({ next: nextBatch }),
  async *[Symbol.asyncIterator]() {
    for (let r = await nextBatch(); !r.done; r = await nextBatch()) yield* r.value;
  },
};

// Results go back in batches: a message per result would cost more than a small download.
let batch: JobResult[] = [];
let flushTimer: NodeJS.Timeout | undefined;
const flush = () => {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (batch.length) post({ t: 'results', rs: batch });
  batch = [];
};
const stats = newStats();
const reporter: Reporter = {
  queued: () => undefined,
  inputEnd: () => undefined,
  invalid: (inv) => {
    // Named and checked by the run already; should it still be refused here, it ends as failed.
    batch.push([inv.line, 'failed', null, inv.reason, 0, 0, '', 0]);
  },
  retry: (r) => post({ t: 'retry', seq: r.item.line, attempt: r.attempt, delayMs: r.delayMs, reason: r.reason }),
  result: (r) => {
    batch.push([r.item.line, r.outcome, r.status ?? null, r.error ?? null, r.attempts, r.bytes, r.out, r.timeMs]);
    if (batch.length >= 256) flush();
    else flushTimer ??= setTimeout(flush, 20);
  },
};
const ticker = setInterval(() => {
  post({ t: 'stats', bytes: stats.bytes, bytesDone: stats.bytesDone, retries: stats.retries, openConnections: stats.openConnections, active: stats.active, awaited: stats.awaited });
}, 100);

const { budget } = data;
// The run holds DEST's lock and has named the items; this job keeps its own record file.
const internal: Internal = { lockHeld: true, logTag: data.tag, prenamed: true, writeShare: 1 / Math.max(1, data.jobs) };
const o = resolveOptions({ ...data.options, ...budget, shard: undefined, jobs: 1 }, internal);
// The app's own setup for this thread, if it gave one (the CLI's memory policy): the engine
// only calls it.
if (data.options.jobSetup) {
  const { setupJob } = (await import(data.options.jobSetup)) as { setupJob?: (o: { bytesReceived: () => number }) => void };
  setupJob?.({ bytesReceived: () => stats.bytes });
}
runEngine(lines, o, { stats, reporter, signal: ac.signal }).then(
  (end) => {
    flush();
    clearInterval(ticker);
    post({ t: 'stats', bytes: stats.bytes, bytesDone: stats.bytesDone, retries: stats.retries, openConnections: 0, active: 0, awaited: 0 });
    post({ t: 'end', interrupted: end.interrupted, stopped: end.stopped });
    port.close();
  },
  (err: unknown) => {
    flush();
    clearInterval(ticker);
    post({ t: 'failed', message: (err as Error)?.message ?? String(err), exitCode: (err as { exitCode?: number })?.exitCode, code: errorCode(err) });
    port.close();
  },
);
