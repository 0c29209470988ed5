// Two small controls every run needs: a switch that stops it on the caller's signal or on its own
// (the disk is full, every job died), saying why; and a waker, one waiter for a condition that
// looks again when poked (room in the window, a reader that caught up).

import { setMaxListeners } from 'node:events';

interface StopSwitch {
  /** Fires on the caller's signal or on stop(). */
  signal: AbortSignal;
  /** Stops the run on its own, for this reason (the first reason given stays). */
  stop(reason: string): void;
  /** Why the run stopped on its own, if it did. */
  reason(): string | undefined;
}

export function stopSwitch(callers: AbortSignal): StopSwitch {
  const own = new AbortController();
  let why: string | undefined;
  const signal = AbortSignal.any([callers, own.signal]);
  // Every in-flight request listens on the one shutdown signal; thousands at once is normal.
  setMaxListeners(0, signal);
  return {
    signal,
    stop(reason) {
      if (why !== undefined) return;
      why = reason;
      own.abort();
    },
    reason: () => why,
  };
}

export class Waker {
  private wake: (() => void) | undefined;

  /** Something the waiter's condition depends on changed: look again. */
  readonly poke = (): void => {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  };

  /** Resolves once `pred` holds, looking at it now and at every poke. */
  until(pred: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (pred()) resolve();
        else this.wake = check;
      };
      check();
    });
  }
}
