// The orchestrator: sources -> items -> pool -> transfer -> store, with the UI listening.
//
// Input is pulled only while the window of started-but-unfinished items has room, so a list of
// ten million lines streams through in bounded memory and the first download starts at once.

import { Client } from './http/undici.js';
import { setMaxListeners } from 'node:events';
import { EventBus, newStats, type Item, type RawLine, type RunStats } from './types.js';
import { ItemMaker, type Layout } from './items.js';
import { ConnectionPool, PoolClosedError } from './pool/pool.js';
import { AbortedError, transfer, type TransferOptions } from './http/transfer.js';
import { NameAllocator } from './store/fingerprint.js';
import { SafeDirs, prepareDest } from './store/paths.js';
import { StateStore } from './store/state.js';
import { reclaimIfGrown } from './store/reclaim.js';
import { SmallFileWriter } from './store/writer.js';
import { acquireLock } from './store/lock.js';
import { clientOrigin, makeConnector, proxyFor } from './http/connect.js';
import { basicAuth, withoutUserinfo } from './http/credentials.js';
import { Watchdog } from './http/watchdog.js';
import { maskUrl } from './text.js';
import { FailureLog, ReportFile, SaveFailedWriter, attachVerbose, textReport, writeJsonReport } from './ui/report.js';
import { startProgress, type ProgressMode } from './ui/progress.js';

export interface RunConfig {
  noun: 'files' | 'flags';
  version: string;
  /** Raw lines in input order (already opened: unreadable inputs were refused before). */
  lines: AsyncIterable<RawLine> | Iterable<RawLine>;
  /** Display labels for the flags command, by line number. */
  labelOf?: (raw: RawLine) => string | undefined;
  dest: string;
  layout: Layout;
  shard?: { k: number; n: number };
  limit: number;
  perHost: number;
  rate: number;
  connectTimeoutMs: number;
  timeoutMs: number;
  insecure: boolean;
  /** --proxy; otherwise HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment. */
  proxy?: string;
  transfer: TransferOptions;
  dryRun: boolean;
  progress: ProgressMode;
  progressIntervalMs: number;
  verbose: boolean;
  quiet: boolean;
  noColor: boolean;
  reportFile?: string;
  saveFailed?: string;
  /** In `flags`, codes not found do not make the exit status 1. */
  notFoundIsFailure: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  /** Aborted on SIGINT/SIGTERM by the caller; the run then stops starting work and reports. */
  signal: AbortSignal;
}

export interface RunOutcome {
  stats: RunStats;
  interrupted: boolean;
  /** Why the run stopped on its own before the end (the disk is full). */
  stopped?: string;
  exitCode: 0 | 1;
}

/** Errors that end a run before it starts, as a usage-class failure (exit 2). */
export class SetupError extends Error {}

export async function runDownloads(cfg: RunConfig): Promise<RunOutcome> {
  // The run stops on the caller's signal, or on its own when the disk fills up: no later item
  // could be written, so it stops as an interrupt does (partials kept) and says why.
  const stopper = new AbortController();
  let stopped: string | undefined;
  const stop = (reason: string) => {
    if (stopped !== undefined) return;
    stopped = reason;
    stopper.abort();
  };
  const signal = AbortSignal.any([cfg.signal, stopper.signal]);
  // Every in-flight request listens on the one shutdown signal; thousands at once is normal.
  setMaxListeners(0, signal);
  setMaxListeners(0, cfg.signal);
  const stats = newStats();
  const bus = new EventBus();
  const names = new NameAllocator();
  const maker = new ItemMaker({ layout: cfg.layout, shard: cfg.shard, names });
  bus.on((e) => {
    if (e.type === 'invalid') stats.invalid++;
    else if (e.type === 'done') stats[e.result.outcome]++;
  });
  const failures = new FailureLog().attach(bus);

  if (cfg.dryRun) return dryRun(cfg, maker, bus, stats);

  let destReal: string;
  try {
    destReal = await prepareDest(cfg.dest);
  } catch (err) {
    throw new SetupError((err as Error).message);
  }
  const lock = await acquireLock(destReal, cfg.dest).catch((err: Error) => {
    throw new SetupError(err.message);
  });
  let saveFailed: SaveFailedWriter | undefined;
  try {
    if (cfg.saveFailed) saveFailed = new SaveFailedWriter(cfg.saveFailed).attach(bus);
  } catch (err) {
    lock.release();
    throw new SetupError(`cannot write --save-failed file ${cfg.saveFailed}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let reportFile: ReportFile | undefined;
  try {
    if (cfg.reportFile && cfg.reportFile !== '-') reportFile = ReportFile.open(cfg.reportFile);
  } catch (err) {
    lock.release();
    await saveFailed?.close().catch(() => undefined);
    throw new SetupError(`cannot write --report file ${cfg.reportFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let state: StateStore;
  try {
    state = await StateStore.open(destReal);
  } catch (err) {
    // Without this the lock would stay behind and the failure would read as an internal error.
    lock.release();
    reportFile?.discard();
    await saveFailed?.close().catch(() => undefined);
    throw new SetupError(`cannot open ${cfg.dest}/.bulkget/state.jsonl: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // The proxy decision is per endpoint; remember it so the per-request path costs a lookup.
  const proxies = new Map<string, URL | undefined>();
  const proxyOf = (origin: string): URL | undefined => {
    if (!proxies.has(origin)) {
      // Bounded: a list spread over a million hosts must not keep a million entries.
      if (proxies.size >= 10_000) proxies.clear();
      proxies.set(origin, proxyFor(new URL(origin), cfg.proxy));
    }
    return proxies.get(origin);
  };
  const pool = new ConnectionPool({
    limit: cfg.limit,
    perHost: cfg.perHost,
    rate: cfg.rate,
    onSocket: (d) => {
      stats.openConnections += d;
    },
    makeClient: (origin) => {
      const proxy = proxyOf(origin);
      return new Client(clientOrigin(origin, proxy), {
        connect: makeConnector({ origin, timeoutMs: cfg.connectTimeoutMs, insecure: cfg.insecure, proxy }),
        headersTimeout: cfg.timeoutMs,
        bodyTimeout: cfg.timeoutMs,
        pipelining: 1,
        keepAliveTimeout: 4000,
      });
    },
  });

  const progress = startProgress({
    mode: cfg.quiet ? 'none' : cfg.progress,
    stream: cfg.stderr,
    stats,
    noun: cfg.noun,
    intervalMs: cfg.progressIntervalMs,
    noColor: cfg.noColor,
  });
  attachVerbose(bus, cfg.stderr, { quiet: cfg.quiet, verbose: cfg.verbose, log: (line) => progress.log(line) });

  // A second Ctrl-C ends the process with process.exit, skipping the finally below: the
  // validators of files already finished still reach the state log (for --if-exists update
  // and resume), and the lock goes with the process instead of waiting to be found stale.
  const onExit = () => {
    state.flush();
    lock.release();
  };
  process.once('exit', onExit);
  let interrupted = false;
  const writer = new SmallFileWriter();
  let driven = false;
  try {
    interrupted = await drive({ ...cfg, signal }, maker, bus, stats, {
      pool,
      dirs: new SafeDirs(destReal),
      writer,
      state,
      names,
      stats,
      bus,
      opts: cfg.transfer,
      signal,
      stop,
      watchdog: new Watchdog(cfg.timeoutMs),
      // Absolute form only through an http proxy; with no proxy anywhere (the usual case) the
      // per-request origin lookup is skipped.
      // An http:// proxy sees requests in absolute form: its own credentials go with each one.
      proxyAuth: anyHttpProxy(cfg.proxy)
        ? (url) => {
            if (url.protocol !== 'http:') return undefined;
            const p = proxyOf(url.origin);
            return p && (p.username || p.password) ? basicAuth(decodeURIComponent(p.username), decodeURIComponent(p.password)) : undefined;
          }
        : undefined,
      requestPath: anyHttpProxy(cfg.proxy)
        ? (url) => (url.protocol === 'http:' && proxyOf(url.origin) ? withoutUserinfo(url) : url.pathname + url.search)
        : (url) => url.pathname + url.search,
    });
    driven = true;
  } finally {
    if (!driven) reportFile?.discard(); // no report comes: no empty FILE.tmp either
    progress.stop();
    await pool.close().catch(() => undefined);
    await writer.close().catch(() => undefined);
    await state.close().catch(() => undefined);
    await saveFailed?.close().catch(() => undefined);
    lock.release();
    process.removeListener('exit', onExit);
  }

  await report(cfg, stats, failures, reportFile, stopped);
  const exitCode = stopped !== undefined ? 1 : exitCodeOf(cfg, stats);
  return { stats, interrupted: interrupted && stopped === undefined, stopped, exitCode };
}

/** Whether any http:// request could go through a proxy (--proxy or HTTP_PROXY). */
function anyHttpProxy(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(explicit || env.HTTP_PROXY || env.http_proxy);
}

function exitCodeOf(cfg: RunConfig, stats: RunStats): 0 | 1 {
  if (stats.failed > 0 || stats.invalid > 0) return 1;
  if (cfg.notFoundIsFailure && stats.notFound > 0) return 1;
  return 0;
}

async function report(cfg: RunConfig, stats: RunStats, failures: FailureLog, reportFile?: ReportFile, stopped?: string): Promise<void> {
  const ctx = {
    stopped,
    noun: cfg.noun,
    stats,
    elapsedMs: performance.now() - stats.startedMs,
    limits: { total: cfg.limit, perHost: cfg.perHost },
    version: cfg.version,
  };
  if (reportFile) {
    try {
      await reportFile.write(ctx, failures);
    } catch (err) {
      // Opened before the run, so only the disk can fail here (full, gone): one line, exit 2.
      throw new SetupError(`cannot write --report file ${cfg.reportFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (cfg.reportFile === '-') {
    await writeJsonReport(ctx, failures, cfg.stdout);
  }
  if (!cfg.quiet && cfg.reportFile !== '-') cfg.stdout.write(textReport(ctx));
  await failures.close();
}

/** Feeds items to transfers, keeping at most `window` of them started and unfinished. */
async function drive(
  cfg: RunConfig,
  maker: ItemMaker,
  bus: EventBus,
  stats: RunStats,
  tctx: Parameters<typeof transfer>[1],
): Promise<boolean> {
  // The window bounds memory (items waiting for a slot) while looking far enough ahead that
  // a busy host never starves an idle one that appears later in the list.
  // 512 at least: every item in the window lives through scavenges into the old generation, so
  // the window is what the heap holds between full collections (1,024 peaked 3-4 MiB higher on
  // 10,000 small files with -l 64, for no gain in speed).
  const window = Math.max(512, Math.min(10_000, (cfg.limit || 1000) * 8));
  let running = 0;
  let wake: (() => void) | undefined;
  let interrupted = false;
  let settled = 0;
  const settle = () => {
    running--;
    if ((++settled & 1023) === 0) reclaimIfGrown();
    if (wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const start = (item: Item) => {
    running++;
    stats.queued++;
    bus.emit({ type: 'queued', item });
    transfer(item, tctx).then(
      (result) => {
        bus.emit({ type: 'done', result });
        settle();
      },
      (err: unknown) => {
        if (!(err instanceof AbortedError || err instanceof PoolClosedError)) {
          bus.emit({
            type: 'done',
            result: { item, outcome: 'failed', error: String((err as Error)?.message ?? err), attempts: 0, bytes: 0 },
          });
        }
        settle();
      },
    );
  };
  const waitFor = (pred: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (pred()) resolve();
        else wake = check;
      };
      check();
    });

  const onAbort = () => {
    interrupted = true;
    // Abort every transfer and every waiter at once (requests carry no signal of their own).
    void tctx.pool.destroyAll();
    if (wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  cfg.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const raw of untilAborted(cfg.lines, cfg.signal)) {
      if (cfg.signal.aborted) break;
      const made = maker.make(raw, cfg.labelOf?.(raw));
      if (made === null) continue;
      if ('invalid' in made) {
        bus.emit({ type: 'invalid', invalid: made.invalid });
        continue;
      }
      if (running >= window) await waitFor(() => running < window || cfg.signal.aborted);
      if (cfg.signal.aborted) break;
      start(made.item);
    }
    stats.inputDone = !cfg.signal.aborted;
    if (stats.inputDone) bus.emit({ type: 'input-end', total: stats.queued });
    await waitFor(() => running === 0);
  } finally {
    cfg.signal.removeEventListener('abort', onAbort);
  }
  return interrupted || cfg.signal.aborted;
}

/**
 * The lines, ending early when the signal fires. A pipe that stays open (a producer that is
 * still running, a terminal) would otherwise keep the loop waiting for its next line after
 * Ctrl-C, and the run would never get to its report.
 */
async function* untilAborted(lines: AsyncIterable<RawLine> | Iterable<RawLine>, signal: AbortSignal): AsyncGenerator<RawLine> {
  if (Symbol.iterator in lines) {
    for (const raw of lines) {
      if (signal.aborted) return;
      yield raw;
    }
    return;
  }
  const it = lines[Symbol.asyncIterator]();
  // One wake-up slot rather than Promise.race against a long-lived abort promise: every race
  // would leave a reaction on it, which over ten million lines is memory that never comes back.
  let wake: ((v: 'aborted') => void) | undefined;
  const onAbort = () => wake?.('aborted');
  signal.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for (;;) {
      if (signal.aborted) return;
      const pending = it.next();
      const next = await new Promise<IteratorResult<RawLine> | 'aborted'>((resolve, reject) => {
        wake = resolve;
        pending.then(resolve, reject);
      });
      wake = undefined;
      if (next === 'aborted') return;
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Not awaited: an async generator's return() queues behind the next() still pending on the
    // open pipe. The process exits after the report; the read is simply abandoned.
    if (!finished) void it.return?.()?.catch(() => undefined);
  }
}

async function dryRun(cfg: RunConfig, maker: ItemMaker, bus: EventBus, stats: RunStats): Promise<RunOutcome> {
  const dest = cfg.dest.replace(/\/+$/, '') || '.';
  let buf = '';
  for await (const raw of cfg.lines) {
    const made = maker.make(raw, cfg.labelOf?.(raw));
    if (made === null) continue;
    if ('invalid' in made) {
      bus.emit({ type: 'invalid', invalid: made.invalid });
      cfg.stderr.write(`*** Invalid input ${made.invalid.source}:${made.invalid.line}: ${made.invalid.reason}\n`);
      continue;
    }
    stats.queued++;
    if ((stats.queued & 1023) === 0) reclaimIfGrown();
    buf += `${maskUrl(made.item.url.href)} -> ${dest}/${made.item.out}\n`;
    if (buf.length > 65536) {
      if (!cfg.stdout.write(buf)) await new Promise((r) => cfg.stdout.once('drain', r));
      buf = '';
    }
  }
  if (buf) cfg.stdout.write(buf);
  stats.inputDone = true;
  return { stats, interrupted: false, exitCode: stats.invalid > 0 ? 1 : 0 };
}

