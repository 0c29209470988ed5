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
      ...windowFor(o.limit),
      // Slots free that no started item takes: keep looking ahead (SPEC: with --limit 10
      // --per-host 2, 1,000 URLs on host A then 1,000 on host B, both are served from the start).
      lookAhead: () => res.pool.lookAhead(),
      stats: run.stats,
      reporter: run.reporter,
      signal,
      transfer: (item) => transfer(item, ctx),
      // Aborts every transfer and every waiter at once (requests carry no signal of their own).
      onStop: () => void res.pool.destroyAll(),
      held: run.held,
    });
    // A slot given back without an item ending (a retry's wait, a pause): maybe room now.
    res.pool.afterRelease = driver.poke;
    run.onStarted?.({ poke: driver.poke, releaseNow: () => releaseNow(res) });
    const aborted = await driver.done;
    const stopped = reason();
    return { interrupted: aborted && stopped === undefined, stopped };
  } finally {
    await closeResources(res);
  }
}

/**
 * Items started and not finished. While every slot is in use, twice --limit (128 at least): more
 * would only wait, and every item in the window lives through scavenges into the old generation,
 * so the window is what the heap holds between full collections (10,000 x 4 KiB with -l 64, 6
 * interleaved rounds: 1.45 CPU s with 128 against 1.65 with 512 on Node 20, 1.24 against 1.33 on
 * Node 24). While slots are free that no started item can take (a host at its --per-host cap or
 * paused), up to 10,000: a list of 1,000 URLs on host A then 1,000 on host B with -l 10 -p 2 had
 * B's first request after 492 of A's with a fixed 512. While sockets are idle or closing, a few
 * more per endpoint (ConnectionPool.lookAhead). --limit 0 opens a socket per started item:
 * 8,000 of them, as before.
 */
export function windowFor(limit: number): { window: number; maxWindow: number } {
  if (limit === 0) return { window: 8000, maxWindow: 8000 };
  return { window: Math.max(128, Math.min(10_000, limit * 2)), maxWindow: 10_000 };
}
