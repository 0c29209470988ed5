// Deadlines for requests that undici's own timers let live: a server that answers `102
// Processing` every few seconds refreshes undici's headers timeout for ever, though not one byte
// of the answer has come. One sweeper per run looks at every request in flight a few times per
// --timeout and aborts those whose progress count has not moved: only a final head and body bytes
// count. The per-chunk cost is one increment.

import { nowMs } from '../clock.js';

/** A request being watched: `ticks` moves on progress, `expire` aborts it. */
export interface Watched {
  ticks: number;
  /** The sweeper's notes: the ticks it saw last, and since when (-1: not seen yet). */
  seenTicks: number;
  seenSince: number;
  /** Paused by us (a bandwidth cap, a disk behind): the wait is not the server's. */
  readonly holding?: boolean;
  expire(err: Error): void;
}

export class Watchdog {
  private readonly live = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;
  private readonly everyMs: number;

  /** `idleMs`: the longest time without progress (--timeout). */
  constructor(private readonly idleMs: number) {
    // Late by at most a quarter of the timeout, and never a busy loop.
    this.everyMs = Math.min(1000, Math.max(20, Math.floor(idleMs / 4)));
  }

  /** Per request: a Set insert, no clock read (the sweeper notes the time when it first looks). */
  add(w: Watched): void {
    w.seenSince = -1;
    this.live.add(w);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.everyMs);
      this.timer.unref();
    }
  }

  /** The error of a request that had no progress for --timeout: the sweeper's, or undici's own
   *  timers' (set to the same time, they may fire first), told in the same words. */
  stalled(): Error {
    return stalled(this.idleMs);
  }

  remove(w: Watched): void {
    this.live.delete(w);
    if (this.live.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = nowMs();
    for (const w of this.live) {
      if (w.seenSince < 0 || w.ticks !== w.seenTicks || w.holding) {
        w.seenTicks = w.ticks;
        w.seenSince = now;
      } else if (now - w.seenSince >= this.idleMs) {
        this.remove(w);
        w.expire(stalled(this.idleMs));
      }
    }
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** No progress for --timeout (retryable, like any timeout). */
function stalled(idleMs: number): Error {
  return Object.assign(new Error(`timed out: no data for ${seconds(idleMs)} (--timeout; interim 1xx answers are not progress)`), {
    code: 'BULKGET_STALLED',
  });
}

/** The item's --max-time is spent (final: more attempts would only spend more). */
export function maxTimeReached(maxTimeMs: number): Error {
  return Object.assign(new Error(`--max-time ${seconds(maxTimeMs)} reached`), { code: 'BULKGET_MAX_TIME' });
}
