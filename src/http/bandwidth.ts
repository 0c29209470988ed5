// --max-speed and --max-host-speed: token buckets that hold across every connection of the run.
// A body chunk spends its bytes; when a bucket is in debt the response is paused (undici stops
// reading the socket, TCP tells the server to wait) for as long as the debt takes to pay, so
// memory stays flat whatever the speed. Each bucket is a virtual clock (GCRA): the time at which
// the bytes spent so far are paid for; it may run ahead of now by a small burst before anyone waits.

import { nowMs } from '../clock.js';

/** The burst a bucket allows before a reader waits: 50 ms of its rate. */
const BURST_MS = 50;
/** Per-host buckets kept at most; past that they start again (a host's debt is at most a burst). */
const MAX_HOSTS = 10_000;

class Bucket {
  private paidUntil = 0;
  constructor(private readonly bytesPerMs: number) {}

  /** Spends `n` bytes at `now`; returns how long to wait (ms) before reading more. */
  spend(n: number, now: number): number {
    this.paidUntil = Math.max(this.paidUntil, now - BURST_MS) + n / this.bytesPerMs;
    return this.paidUntil - now;
  }
}

export class Bandwidth {
  private readonly total: Bucket | undefined;
  private readonly hosts = new Map<string, Bucket>();
  private readonly hostRate: number;

  /** Rates in bytes per second; 0 = none. */
  constructor(maxSpeed: number, maxHostSpeed: number) {
    this.total = maxSpeed > 0 ? new Bucket(maxSpeed / 1000) : undefined;
    this.hostRate = maxHostSpeed / 1000;
  }

  /** Whether any cap is set (none: the body path does not look at the buckets at all). */
  get active(): boolean {
    return this.total !== undefined || this.hostRate > 0;
  }

  /** The spender for one response from `origin`: bytes in, ms to wait out (0 or less: none). */
  spender(origin: string): (n: number) => number {
    let host: Bucket | undefined;
    if (this.hostRate > 0) {
      host = this.hosts.get(origin);
      if (!host) {
        if (this.hosts.size >= MAX_HOSTS) this.hosts.clear();
        host = new Bucket(this.hostRate);
        this.hosts.set(origin, host);
      }
    }
    const total = this.total;
    return (n) => {
      const now = nowMs();
      const a = total ? total.spend(n, now) : 0;
      const b = host ? host.spend(n, now) : 0;
      return a > b ? a : b;
    };
  }
}
