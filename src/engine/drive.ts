// Feeds items to transfers, keeping at most `window` of them started and unfinished: input is
// pulled only while there is room, so a list of ten million lines streams through in bounded
// memory and the first download starts at once.

import type { Item, ItemResult, RawLine, Reporter, Stats } from '../types.js';
import { batchesUntilAborted } from './sources.js';
import type { ItemMaker } from '../items/maker.js';
import { Waker } from './control.js';

interface DriveOptions {
  lines: AsyncIterable<RawLine> | Iterable<RawLine>;
  maker: ItemMaker;
  /** Items started and not finished, at most, while every slot is in use. */
  window: number;
  /**
   * While `lookAhead()` says slots are free that no started item can take (its host is at its
   * --per-host cap, or paused; an idle socket of a host with nothing queued), up to that many
   * more items are started, and never more than maxWindow in all, so that a later host is found
   * and served.
   */
  maxWindow?: number;
  lookAhead?: () => number;
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
    o.signal.aborted ||
    (!o.held?.() && (running < o.window || (running < maxWindow && o.lookAhead !== undefined && running < o.window + o.lookAhead())));

  const run = async (): Promise<boolean> => {
    const onAbort = () => {
      o.onStop();
      poke();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      input: for await (const batch of batchesUntilAborted(o.lines, o.signal)) {
        for (const raw of batch) {
          if (o.signal.aborted) break input;
          const made = o.maker.make(raw);
          if (made === null) continue;
          if ('invalid' in made) {
            o.stats.invalid++;
            o.reporter.invalid(made.invalid);
            continue;
          }
          if (!room()) await waitFor(room);
          if (o.signal.aborted) break input;
          start(made.item);
        }
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
