// The orchestrator: sources -> items -> pool -> transfer -> store. It opens the run's resources,
// drives items through transfers, and closes everything, whatever happened. It prints nothing,
// exits nothing, traps no signal, forces no GC: it reports through a Reporter and its counters.

import type { RawLine, Reporter, Stats } from '../types.js';
import { ItemMaker } from '../items/maker.js';
import { NameAllocator } from '../items/names.js';
import { transfer } from '../transfer/transfer.js';
import type { TransferContext } from '../transfer/context.js';
import { closeResources, openResources, releaseNow, type Resources } from './setup.js';
import { drive } from './drive.js';
import type { ResolvedOptions } from './options.js';
import { stopSwitch } from './control.js';

export interface EngineRun {
  stats: Stats;
  reporter: Reporter;
  /** Aborted by the caller (Ctrl-C, abort()): stop starting work, abort transfers, keep partials. */
  signal: AbortSignal;
  /** While true, start no new item. */
  held?: () => boolean;
  /** Hands over `poke` (look at `held` again) and `releaseNow` (a process about to end at once). */
  onStarted?: (hooks: { poke: () => void; releaseNow: () => void }) => void;
}

export interface EngineEnd {
  interrupted: boolean;
  /** Why the run stopped on its own (the disk is full). */
  stopped?: string;
}

export async function runEngine(lines: AsyncIterable<RawLine> | Iterable<RawLine>, o: ResolvedOptions, run: EngineRun): Promise<EngineEnd> {
  // The run stops on the caller's signal, or on its own when the disk fills up: no later item
  // could be written, so it stops as an interrupt does (partials kept) and says why.
  const { signal, stop, reason } = stopSwitch(run.signal);

  const names = new NameAllocator();
  // A job of a --jobs run gets its items named by the run, over the whole list.
  const maker = new ItemMaker({ layout: o.layout, shard: o.shard, names: o.internal.prenamed ? { assign: (path) => path } : names });
  const res: Resources = await openResources(o, run.stats);
  const ctx: TransferContext = {
    slots: res.pool,
    dirs: res.dirs,
    state: res.state,
    names,
    stats: run.stats,
    report: run.reporter,
    opts: o.transfer,
    signal,
    writer: res.writer,
    budget: res.budget,
    requestPath: res.requestPath,
    proxyAuth: res.proxyAuth,
    stop,
    watchdog: res.watchdog,
    bandwidth: res.bandwidth,
    lenient: res.lenient,
  };
  try {
    const driver = drive({
      lines,
      maker,
      window: windowFor(o.limit, o.perHost),
      stats: run.stats,
      reporter: run.reporter,
      signal,
      transfer: (item) => transfer(item, ctx),
      // Aborts every transfer and every waiter at once (requests carry no signal of their own).
      onStop: () => void res.pool.destroyAll(),
      held: run.held,
    });
    run.onStarted?.({ poke: driver.poke, releaseNow: () => releaseNow(res) });
    const aborted = await driver.done;
    const stopped = reason();
    return { interrupted: aborted && stopped === undefined, stopped };
  } finally {
    await closeResources(res);
  }
}

/**
 * Items started and not finished, at most. The window bounds memory (items waiting for a slot)
 * while looking far enough ahead that a host at its --per-host cap never starves one that
 * appears later in the list: 8 x --limit, 512 at least (every item in the window lives through
 * scavenges into the old generation, so the window is what the heap holds between full
 * collections; 1,024 peaked 3-4 MiB higher on 10,000 small files with -l 64, for no gain). Without
 * a per-host cap any endpoint can take every free slot, so twice the total is enough to keep it
 * full: 10,000 x 4 KiB with -l 64 (6 interleaved rounds) took 1.45 instead of 1.65 CPU s with 128
 * on Node 20, 1.24 instead of 1.33 on Node 24, since 448 items waiting for a slot no longer
 * outlive the young generation. --limit 0 opens a socket per started item: 8,000 as before.
 */
export function windowFor(limit: number, perHost: number): number {
  if (limit === 0 || perHost > 0) return Math.max(512, Math.min(10_000, (limit || 1000) * 8));
  return Math.max(128, Math.min(10_000, limit * 2));
}
