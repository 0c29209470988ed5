// Live progress on stderr: a cli-progress bar for terminals, plain periodic lines for logs, JSON
// objects for programs.
// Both poll Stats on a timer; nothing here is called per byte or per item.

import type { Stats } from '../types.js';
import { clock, groupDigits, humanBytes, humanDuration, humanRate } from './format.js';
import { Sampler, countText, withNewline, type Snapshot } from './snapshot.js';
import { nowMs } from '../clock.js';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'json' | 'none';

export interface ProgressOptions {
  mode: ProgressMode;
  stream: NodeJS.WriteStream;
  stats: Stats;
  noun: 'files' | 'flags';
  /** Lines mode: one status line this often (default 10 s). */
  intervalMs?: number;
  noColor: boolean;
}

export interface Progress {
  /** Removes the bar (or stops the lines) and its timers; safe to call twice. */
  stop(): void;
  /** Prints one line (no trailing newline needed) without tearing the bar. */
  log(line: string): void;
}


/** The display of `o.mode`; the bar's code (and cli-progress) is loaded only when a bar is drawn. */
export async function startProgress(o: ProgressOptions): Promise<Progress> {
  let mode = o.mode;
  if (mode === 'auto') mode = o.stream.isTTY ? 'bar' : 'none';
  // Escape codes and carriage returns in a log file or a pipe are noise: the plain lines say the same.
  if (mode === 'bar' && !o.stream.isTTY) mode = 'lines';
  switch (mode) {
    case 'bar':
      return (await import('./bar.js')).startBar(o);
    case 'lines':
      return startLines(o, (snap) => formatStatusLine(snap, o.noun));
    case 'json':
      return startLines(o, (snap) => formatJsonLine(snap, o.stats), true);
    default:
      return plain(o.stream);
  }
}

function plain(stream: NodeJS.WritableStream): Progress {
  return {
    stop() {},
    log(line) {
      stream.write(withNewline(line));
    },
  };
}


/** The plain status line of lines mode: no `\r`, no escape sequences, one line per call. */
export function formatStatusLine(s: Snapshot, noun: 'files' | 'flags'): string {
  const parts = [
    countText(s, noun),
    humanBytes(s.bytes),
    humanRate(s.bytesPerSec),
    `${groupDigits(s.connections)} ${s.connections === 1 ? 'connection' : 'connections'}`,
    `${groupDigits(s.retries)} ${s.retries === 1 ? 'retry' : 'retries'}`,
    `${groupDigits(s.failures)} failed`,
  ];
  if (s.totalKnown && s.etaMs !== undefined && s.done < s.total) parts.push(`ETA ${humanDuration(s.etaMs)}`);
  return `[${clock(s.elapsedMs)}] ${parts.join(', ')}`;
}

/**
 * One line of --progress json: the JSON report's counters, plus requests in flight (`active`),
 * open connections and the rate over the last interval. `total` is a lower bound until
 * `totalKnown` (the input is still being read).
 */
function formatJsonLine(s: Snapshot, stats: Stats): string {
  return JSON.stringify({
    elapsedMs: Math.round(s.elapsedMs),
    total: s.total,
    totalKnown: s.totalKnown,
    counts: { downloaded: stats.downloaded, unchanged: stats.unchanged, skipped: stats.skipped, notFound: stats.notFound, failed: stats.failed, invalid: stats.invalid },
    bytes: s.bytes,
    retries: s.retries,
    active: stats.active,
    connections: s.connections,
    bytesPerSecond: Math.round(s.bytesPerSec),
  });
}

// ---------------------------------------------------------------------------------------------
// Lines mode (and json: the same timer, another format)

/** `last`: one more line when the display stops, so a program sees the final counters. */
function startLines(o: ProgressOptions, format: (snap: Snapshot) => string, last = false): Progress {
  const interval = o.intervalMs !== undefined && Number.isFinite(o.intervalMs) && o.intervalMs > 0 ? o.intervalMs : 10_000;
  // The rate of a status line covers the interval since the previous line, which is what a
  // reader of the log compares line to line.
  const sampler = new Sampler(interval);
  sampler.seed(o.stats, nowMs());
  const line = () => o.stream.write(format(sampler.snapshot(o.stats, nowMs())) + '\n');
  const timer = setInterval(line, interval);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (last) line();
    },
    log(line) {
      o.stream.write(withNewline(line));
    },
  };
}
