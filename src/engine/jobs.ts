// A --jobs run: one list, read and named once here, downloaded by N jobs on threads of their own
// (job-worker.ts), each the same engine with its share of the budgets (split.ts). Results come
// back to this thread, which reports them as one run: one set of counters, one report, one end.
//
// Threads rather than processes: a thread starts in ~30 ms against ~90 ms for a process, items
// and results cross as structured clones with no pipe framing to write, and one process holds one
// DEST lock and exits once. Each thread has its own event loop and heap, which is what a second
// core needs.

import { existsSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { Item, ItemResult, RawLine, Outcome } from '../types.js';
import { ItemMaker } from '../items/maker.js';
import { NameAllocator } from '../items/names.js';
import { prepareDest } from '../store/dest.js';
import { acquireLock } from '../store/lock.js';
import { StateStore } from '../store/state.js';
import type { ResolvedOptions, DownloadOptions } from './options.js';
import { describeError } from '../errors.js';
import { packageFile } from '../version.js';
import type { EngineEnd, EngineRun } from './run.js';
import { batchesUntilAborted } from './sources.js';
import { splitBudgets, type Split } from './split.js';
import { stopSwitch, Waker } from './control.js';
import type { FromJob, JobData, JobItem, JobResult, ToJob } from './job-worker.js';

/** Items sent to a job at once. */
const BATCH = 256;

interface Counters {
  bytes: number;
  bytesDone: number;
  retries: number;
  openConnections: number;
  active: number;
  awaited: number;
}

interface Job {
  index: number;
  worker: Worker;
  /** Items sent (or about to be) and not yet answered. */
  outstanding: Map<number, Item>;
  pending: JobItem[];
  last: Counters;
  ended: boolean;
  exited: Promise<void>;
}

/**
 * The job thread: built, the one-file bundle of it (dist/job-worker.mjs, scripts/bundle.mjs) or,
 * where a build has none, dist/engine/job-worker.js; under tsx (the tests), from the source.
 */
function startWorker(data: JobData): Worker {
  // Loaded when a --jobs run starts, not with the CLI.
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  if (!import.meta.url.endsWith('.ts')) {
    const bundled = packageFile('dist/job-worker.mjs');
    const file = existsSync(bundled) ? bundled : packageFile('dist/engine/job-worker.js');
    return new Worker(file, { workerData: data });
  }
  // A thread does not inherit tsx's loader: it registers it before it loads the source.
  const api = import.meta.resolve('tsx/esm/api');
  const entry = packageFile('src/engine/job-worker.ts').href;
  const boot = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

function jobItem(seq: number, item: Item): JobItem {
  return [seq, item.url.href, item.out, item.sha256 ?? null, item.size ?? null, item.label ?? null, item.given ? 1 : 0];
}

export async function runJobs(lines: AsyncIterable<RawLine> | Iterable<RawLine>, o: ResolvedOptions, run: EngineRun): Promise<EngineEnd> {
  const destReal = prepareDest(o.dest);
  const lock = await acquireLock(destReal, o.dest, { shard: o.shard });
  const { signal, stop, reason } = stopSwitch(run.signal);
  const waker = new Waker();
  const poke = waker.poke;
  const stats = run.stats;
  const split: Split = splitBudgets(o.jobs, { limit: o.limit, perHost: o.perHost, rate: o.rate, maxSpeed: o.maxSpeed, maxHostSpeed: o.maxHostSpeed });
  // Each job looks ahead as its own engine does, and has as many again waiting here in its queue.
  const window = (limit: number) => 2 * Math.max(512, Math.min(10_000, (limit || 1000) * 8));
  const given: DownloadOptions = { ...o.given, signal: undefined, env: { ...o.env }, shard: undefined };
  const tagOf = (i: number) => (o.shard ? `shard-${o.shard.k}-of-${o.shard.n}-job-${i + 1}` : `job-${i + 1}`);

  // Each job's record file keeps a reserve for its last records on a full disk (store/reserve.ts),
  // made as the job opens it. A job thread that started late (a loaded machine) found the disk
  // filled by the other job's bodies already and kept none, and the partials it left had no
  // records: the next run fetched them whole (1 run in 12 to 26 of the full-disk test under load).
  // So the run makes them all before any job starts; a job keeps the one it finds.
  await Promise.all(split.budgets.map((_, i) => StateStore.reserveAhead(destReal, tagOf(i)).catch(() => false)));
  const jobs: Job[] = split.budgets.map((budget, index) => {
    const data: JobData = { options: given, budget, tag: tagOf(index), jobs: split.budgets.length };
    const worker = startWorker(data);
    const job: Job = {
      index,
      worker,
      outstanding: new Map(),
      pending: [],
      last: { bytes: 0, bytesDone: 0, retries: 0, openConnections: 0, active: 0, awaited: 0 },
      ended: false,
      exited: undefined as unknown as Promise<void>,
    };
    let error: string | undefined;
    worker.on('message', (m: FromJob) => onMessage(job, m));
    worker.on('error', (err) => (error ??= err.message));
    job.exited = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        if (!job.ended) died(job, error ?? `exit code ${code}`);
        resolve();
      }),
    );
    return job;
  });

  const counters = (job: Job, c: Counters) => {
    stats.bytes += c.bytes - job.last.bytes;
    stats.bytesDone += c.bytesDone - job.last.bytesDone;
    stats.retries += c.retries - job.last.retries;
    stats.openConnections += c.openConnections - job.last.openConnections;
    stats.active += c.active - job.last.active;
    stats.awaited += c.awaited - job.last.awaited;
    job.last = c;
  };
  const finish = (job: Job, r: JobResult) => {
    const [seq, outcome, status, error, attempts, bytes, out, timeMs] = r;
    const item = job.outstanding.get(seq);
    if (!item) return;
    job.outstanding.delete(seq);
    const result: ItemResult = { item, url: item.url.href, out: out || item.out, outcome: outcome as Outcome, attempts, bytes, timeMs };
    if (status !== null) result.status = status;
    if (error !== null) result.error = error;
    stats[result.outcome]++;
    run.reporter.result(result);
  };
  function onMessage(job: Job, m: FromJob): void {
    switch (m.t) {
      case 'results':
        for (const r of m.rs) finish(job, r);
        poke();
        break;
      case 'retry': {
        const item = job.outstanding.get(m.seq);
        if (item) run.reporter.retry({ item, attempt: m.attempt, delayMs: m.delayMs, reason: m.reason });
        break;
      }
      case 'stats':
        counters(job, m);
        break;
      case 'end':
        job.ended = true;
        // Its resources are closed and its records written: nothing is left to wait for.
        void job.worker.terminate();
        if (m.stopped !== undefined) stop(m.stopped);
        break;
      case 'failed':
        // A job that finds the disk full before it starts (another filled it) stops the run as
        // a job that finds it full later does: nothing it held failed, it was never begun.
        if (m.code === 'ENOSPC' || m.code === 'EDQUOT') quit(job, describeError({ code: m.code }));
        else died(job, m.message);
        break;
    }
  }
  /** A job that ends because the run stops (or must stop: the disk is full). */
  function quit(job: Job, why: string): void {
    job.ended = true;
    job.pending = [];
    stop(why);
  }
  // A job that ends before its time is reported, not hidden: what it held fails with the reason
  // (in the report and --save-failed, for a later run), and its share of the list goes on to the
  // next job. With no job left, the run stops as it does on a full disk.
  function died(job: Job, reason: string): void {
    if (job.ended) return;
    // The run is stopping anyway (Ctrl-C, a full disk): what the job held is interrupted, not failed.
    if (signal.aborted) return quit(job, reason);
    job.ended = true;
    const why = `job ${job.index + 1} of ${jobs.length} ended unexpectedly: ${reason.split('\n')[0]}`;
    for (const [seq] of job.outstanding) finish(job, [seq, 'failed', null, why, 0, 0, '', 0]);
    job.pending = [];
    counters(job, { bytes: job.last.bytes, bytesDone: job.last.bytesDone, retries: job.last.retries, openConnections: 0, active: 0, awaited: 0 });
    if (jobs.every((j) => j.ended)) stop(why);
    poke();
  }
  /**
   * The job for an item. Where any job may take it, the live one with the fewest items
   * outstanding. Otherwise its endpoint's own, or the next one alive: a dead job's endpoints move
   * to one other job each, so no endpoint is ever served by more jobs than --per-host allows.
   */
  const jobFor = (item: Item): Job => {
    if (split.free) {
      let best: Job | undefined;
      for (const job of jobs) if (!job.ended && (!best || job.outstanding.size < best.outstanding.size)) best = job;
      if (best) return best;
    }
    const first = split.route(item.url.origin, item.url.href);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[(first + i) % jobs.length]!;
      if (!job.ended) return job;
    }
    return jobs[first]!;
  };

  const post = (job: Job, m: ToJob) => {
    if (!job.ended) job.worker.postMessage(m);
  };
  const send = (job: Job) => {
    if (job.pending.length === 0) return;
    post(job, { t: 'items', items: job.pending });
    job.pending = [];
  };
  let flushScheduled = false;
  const flushSoon = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      for (const job of jobs) send(job);
    });
  };
  const onAbort = () => {
    for (const job of jobs) post(job, { t: 'abort' });
    poke();
  };
  signal.addEventListener('abort', onAbort, { once: true });

  const names = new NameAllocator();
  const maker = new ItemMaker({ layout: o.layout, shard: o.shard, names });
  const windows = split.budgets.map((b) => window(b.limit));
  const room = (job: Job) => signal.aborted || (job.outstanding.size < windows[job.index]! && !run.held?.());
  const waitFor = (pred: () => boolean) => waker.until(pred);

  run.onStarted?.({ poke, releaseNow: () => lock.release() });
  try {
    let seq = 0;
    input: for await (const batch of batchesUntilAborted(lines, signal)) {
      for (const raw of batch) {
        if (signal.aborted) break input;
        const made = maker.make(raw);
        if (made === null) continue;
        if ('invalid' in made) {
          stats.invalid++;
          run.reporter.invalid(made.invalid);
          continue;
        }
        const item = made.item;
        let job = jobFor(item);
        if (!room(job)) {
          // A free item waits for room in any job; a tied one for its own job.
          await waitFor(split.free ? () => jobs.some((j) => !j.ended && room(j)) || jobs.every((j) => j.ended) : () => room(job) || job.ended);
          // The job with room now takes it; or, where its job died while it waited, the next one.
          if (split.free || job.ended) job = jobFor(item);
        }
        if (signal.aborted) break input;
        stats.queued++;
        run.reporter.queued(item);
        job.outstanding.set(seq, item);
        job.pending.push(jobItem(seq++, item));
        if (job.pending.length >= BATCH) send(job);
        else flushSoon();
      }
    }
    stats.inputDone = !signal.aborted;
    if (stats.inputDone) run.reporter.inputEnd(stats.queued);
    for (const job of jobs) {
      send(job);
      post(job, { t: 'end' });
    }
    await Promise.all(jobs.map((j) => j.exited));
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Never leave a thread behind (an error above, a reader that gave up).
    for (const job of jobs) {
      job.ended = true;
      void job.worker.terminate();
    }
    lock.release();
  }
  const stopped = reason();
  return { interrupted: run.signal.aborted && stopped === undefined, stopped };
}
