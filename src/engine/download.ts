// The library's face: download(items, options) starts at once and returns a Download.
//
// - Events: Node's EventEmitter, typed (DownloadEvents). Chosen over EventTarget because Node
//   users expect on()/once()/off(), listeners get plain arguments instead of Event objects, and
//   an emit with no listener costs next to nothing, which matters for events sent per item.
// - Results: `for await (const r of dl)` yields every ItemResult from the moment iteration
//   begins (start it right away to see them all). A reader slower than the downloads holds new
//   items back instead of piling results up in memory.
// - The end: `dl.done` resolves with the summary (the JSON report's shape). Failed items do not
//   reject it; only a run that cannot start does (DEST unwritable or in use: a BulkgetError).
// - Stopping: `dl.abort()` or `options.signal`: no new requests, transfers aborted, partial files
//   kept for resume; `done` resolves with `interrupted: true`.

import { EventEmitter } from 'node:events';
import type { DownloadEvents, DownloadItem, FailureEntry, InvalidInput, Item, ItemResult, RawLine, Reporter, RetryInfo, Stats, Summary } from '../types.js';
import { newStats } from '../types.js';
import { maskUrl } from '../text.js';
import { resolveOptions, type DownloadOptions, type ResolvedOptions } from './options.js';
import { runEngine } from './run.js';
import { runJobs } from './jobs.js';
import { HostTally } from './hosts.js';
import { toLines } from './sources.js';
import { nowMs } from '../clock.js';

/** Results waiting for a slow `for await` reader before new items are held back. */
const READER_BACKLOG = 1024;

export class Download extends EventEmitter<DownloadEvents> implements AsyncIterable<ItemResult> {
  /** The summary once the run has ended (the JSON report's shape). */
  readonly done: Promise<Summary>;
  /** Live counters, updated as the run goes (read them on a timer, not per event). */
  readonly stats: Stats = newStats();
  private readonly controller = new AbortController();
  private readonly readers = new Set<ResultQueue>();
  private readonly failures: FailureEntry[] = [];
  private failuresLeftOut = 0;
  private readonly hosts = new HostTally();
  private poke: () => void = () => undefined;
  private release: () => void = () => undefined;
  private ended = false;

  constructor(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>, options: DownloadOptions = {}) {
    super();
    const o = resolveOptions(options);
    const signal = options.signal ? AbortSignal.any([options.signal, this.controller.signal]) : this.controller.signal;
    this.done = this.run(toLines(items), o, signal);
    // Failed items resolve `done`; a run that could not start rejects it, and also ends every
    // reader with that error. Marked handled here so that a caller who only iterates is not
    // killed by an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Stops the download, as options.signal does. */
  abort(): void {
    this.controller.abort();
  }

  /**
   * Writes what a later run needs (the state log's buffered records) and releases DEST's lock,
   * synchronously: for a process that is about to end at once (a second Ctrl-C).
   */
  releaseNow(): void {
    this.release();
  }

  [Symbol.asyncIterator](): AsyncIterator<ItemResult> {
    const q = new ResultQueue(() => {
      this.readers.delete(q);
      this.poke();
    }, () => this.poke());
    // A reader that comes after the end gets the end itself: nothing, or the error.
    if (!this.ended) this.readers.add(q);
    this.done.then(() => q.close(), (err: unknown) => q.close(err));
    return q;
  }

  private async run(lines: Iterable<RawLine> | AsyncIterable<RawLine>, o: ResolvedOptions, signal: AbortSignal): Promise<Summary> {
    const timer = o.progressIntervalMs > 0 ? setInterval(() => this.emit('progress', this.stats), o.progressIntervalMs) : undefined;
    timer?.unref();
    try {
      const end = await (o.jobs > 1 ? runJobs : runEngine)(lines, o, {
        stats: this.stats,
        reporter: this.reporter(o),
        signal,
        held: () => {
          for (const q of this.readers) if (q.backlog >= READER_BACKLOG) return true;
          return false;
        },
        onStarted: (hooks) => {
          this.poke = hooks.poke;
          this.release = hooks.releaseNow;
        },
      });
      return this.summary(o, end.interrupted, end.stopped);
    } finally {
      this.ended = true;
      if (timer) clearInterval(timer);
      this.release = () => undefined;
    }
  }

  private reporter(o: ResolvedOptions): Reporter {
    const keep = (e: FailureEntry) => {
      if (this.failures.length < o.keepFailures) this.failures.push(e);
      else this.failuresLeftOut++;
    };
    return {
      queued: (item: Item) => this.emit('queued', item),
      inputEnd: (total: number) => this.emit('input-end', total),
      retry: (info: RetryInfo) => {
        this.hosts.retry(info.item);
        this.emit('retry', info);
      },
      invalid: (inv: InvalidInput) => {
        keep({ url: inv.text, error: inv.reason, attempts: 0, kind: 'invalid', source: inv.source, line: inv.line });
        this.emit('invalid', inv);
      },
      result: (r: ItemResult) => {
        if (r.outcome === 'failed' || r.outcome === 'notFound') {
          keep({ url: maskUrl(r.url), status: r.status ?? null, error: r.error ?? (r.status !== undefined ? `HTTP ${r.status}` : 'unknown error'), attempts: r.attempts, kind: r.outcome });
        }
        this.hosts.result(r);
        for (const q of this.readers) q.push(r);
        this.emit('result', r);
      },
    };
  }

  private summary(o: ResolvedOptions, interrupted: boolean, stopped: string | undefined): Summary {
    const s = this.stats;
    const summary: Summary = {
      version: o.version,
      startedAt: s.startedAt.toISOString(),
      elapsedMs: Math.round(nowMs() - s.startedMs),
      limits: { total: o.limit, perHost: o.perHost },
      counts: { downloaded: s.downloaded, unchanged: s.unchanged, skipped: s.skipped, notFound: s.notFound, failed: s.failed, invalid: s.invalid },
      bytes: s.bytes,
      retries: s.retries,
      failures: this.failures,
      hosts: this.hosts.top(),
      failuresLeftOut: this.failuresLeftOut,
      interrupted,
    };
    if (stopped !== undefined) summary.stopped = stopped;
    return summary;
  }
}

/** Starts downloading `items` at once. See Download. */
export function download(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>, options?: DownloadOptions): Download {
  return new Download(items, options);
}

/** The results one `for await` reader has not taken yet. */
class ResultQueue implements AsyncIterator<ItemResult> {
  private readonly items: ItemResult[] = [];
  private waiting: { resolve: (r: IteratorResult<ItemResult>) => void; reject: (e: unknown) => void } | undefined;
  private closed = false;
  private error: unknown;

  constructor(
    private readonly onReturn: () => void,
    private readonly onTake: () => void,
  ) {}

  get backlog(): number {
    return this.items.length;
  }

  push(r: ItemResult): void {
    if (this.closed) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ value: r, done: false });
    } else this.items.push(r);
  }

  close(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.error = err;
    const w = this.waiting;
    this.waiting = undefined;
    if (w && this.items.length === 0) {
      if (err !== undefined) w.reject(err);
      else w.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<ItemResult>> {
    const r = this.items.shift();
    if (r !== undefined) {
      if (this.items.length === READER_BACKLOG / 2) this.onTake();
      return Promise.resolve({ value: r, done: false });
    }
    if (this.closed) return this.error !== undefined ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<ItemResult>> {
    this.items.length = 0;
    this.close();
    this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }
}
