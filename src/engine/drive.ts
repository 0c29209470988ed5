// Feeds items to transfers, keeping at most `window` of them started and unfinished: input is
// pulled only while there is room, so a list of ten million lines streams through in bounded
// memory and the first download starts at once.

import type { Item, ItemResult, RawLine, Reporter, Stats } from '../types.js';
import type { ItemMaker } from '../items/maker.js';
import { Waker } from './control.js';

interface DriveOptions {
  lines: AsyncIterable<RawLine> | Iterable<RawLine>;
  maker: ItemMaker;
  /** Items started and not finished, at most, while every slot is in use. */
  window: number;
  /**
   * While `spare()` says slots are free that no started item can take (its host is at its
   * --per-host cap, or paused), items are started up to this many, so that a later host is
   * found and served.
   */
  maxWindow?: number;
  spare?: () => boolean;
  stats: Stats;
  reporter: Reporter;
  signal: AbortSignal;
  /** Runs one item; rejects only when the run was stopped under it. */
  transfer: (item: Item) => Promise<ItemResult>;
  /** Called when the run stops: aborts every transfer and every waiter at once. */
  onStop: () => void;
  /** While true, no new item is started (a library caller reading results slower than they come). */
  held?: () => boolean;
}

interface Driver {
  /** Resolves with whether the run was stopped before its end. */
  done: Promise<boolean>;
  /** Something `held` depends on changed: look again. */
  poke(): void;
}

export function drive(o: DriveOptions): Driver {
  let running = 0;
  const waker = new Waker();
  const poke = waker.poke;
  const settle = () => {
    running--;
    poke();
  };
  const ended = (result: ItemResult) => {
    o.stats[result.outcome]++;
    o.reporter.result(result);
    settle();
  };
  // Made once, not per item: a result names its item.
  const start = (item: Item) => {
    running++;
    o.stats.queued++;
    o.reporter.queued(item);
    // Stopped under way (rejected): the item is neither done nor failed.
    o.transfer(item).then(ended, settle);
  };
  const waitFor = (pred: () => boolean) => waker.until(pred);
  const maxWindow = o.maxWindow ?? o.window;
  const room = () =>
    o.signal.aborted || (!o.held?.() && (running < o.window || (running < maxWindow && o.spare !== undefined && o.spare())));

  const run = async (): Promise<boolean> => {
    const onAbort = () => {
      o.onStop();
      poke();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const raw of untilAborted(o.lines, o.signal)) {
        if (o.signal.aborted) break;
        const made = o.maker.make(raw);
        if (made === null) continue;
        if ('invalid' in made) {
          o.stats.invalid++;
          o.reporter.invalid(made.invalid);
          continue;
        }
        if (!room()) await waitFor(room);
        if (o.signal.aborted) break;
        start(made.item);
      }
      o.stats.inputDone = !o.signal.aborted;
      if (o.stats.inputDone) o.reporter.inputEnd(o.stats.queued);
      await waitFor(() => running === 0);
    } finally {
      o.signal.removeEventListener('abort', onAbort);
    }
    return o.signal.aborted;
  };
  return { done: run(), poke };
}

/**
 * The lines, ending early when the signal fires. A pipe that stays open (a producer that is
 * still running, a terminal) would otherwise keep the loop waiting for its next line after
 * Ctrl-C, and the run would never get to its report.
 */
export async function* untilAborted(lines: AsyncIterable<RawLine> | Iterable<RawLine>, signal: AbortSignal): AsyncGenerator<RawLine> {
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
