// What the progress displays show, computed from the live counters: rates over a sliding window,
// the ETA, the count text.

import type { Stats } from '../types.js';
import { groupDigits } from './format.js';

export function withNewline(line: string): string {
  return line.endsWith('\n') ? line : line + '\n';
}

export interface Snapshot {
  elapsedMs: number;
  done: number;
  total: number;
  /** False while the input is still being read: the total is only a lower bound. */
  totalKnown: boolean;
  bytes: number;
  bytesPerSec: number;
  connections: number;
  retries: number;
  failures: number;
  /** Only when the total is known and items are finishing. */
  etaMs?: number;
}

function finished(s: Stats): number {
  return s.downloaded + s.unchanged + s.skipped + s.notFound + s.failed;
}

/**
 * Rates over a sliding window of recent samples: an average since the start would hide a stall,
 * and the rate between two 100 ms redraws jumps with every chunk.
 */
export class Sampler {
  private samples: { t: number; bytes: number; done: number }[] = [];

  constructor(private readonly windowMs: number) {}

  snapshot(s: Stats, now: number): Snapshot {
    const done = finished(s);
    this.samples.push({ t: now, bytes: s.bytes, done });
    while (this.samples.length > 2 && now - this.samples[1]!.t >= this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    const bytesPerSec = dt > 0 ? Math.max(0, s.bytes - first.bytes) / dt : 0;
    const donePerSec = dt > 0 ? Math.max(0, done - first.done) / dt : 0;
    const snap: Snapshot = {
      elapsedMs: now - s.startedMs,
      done,
      total: Math.max(s.queued, done),
      totalKnown: s.inputDone,
      bytes: s.bytes,
      bytesPerSec,
      connections: s.openConnections,
      retries: s.retries,
      failures: s.failed + s.notFound + s.invalid,
    };
    let eta = s.inputDone && donePerSec > 0 ? ((snap.total - done) / donePerSec) * 1000 : undefined;
    // What the bodies in flight are still due, at the rate of the window: the ETA of a few big
    // files, which finish too seldom for the count to give one.
    if (s.inputDone && s.awaited > 0 && bytesPerSec > 0) eta = Math.max(eta ?? 0, (s.awaited / bytesPerSec) * 1000);
    if (eta !== undefined) snap.etaMs = eta;
    return snap;
  }

  /** Starts the window at the run's start, so the first redraws already show a rate. */
  seed(s: Stats, now: number): void {
    const fresh = now - s.startedMs < this.windowMs;
    this.samples = [fresh ? { t: s.startedMs, bytes: 0, done: 0 } : { t: now, bytes: s.bytes, done: finished(s) }];
  }
}

export function countText(s: Snapshot, noun: string): string {
  return `${groupDigits(s.done)}/${groupDigits(s.total)}${s.totalKnown ? '' : '+'} ${noun}`;
}
