// Live progress on stderr: a cli-progress bar for terminals, plain periodic lines for logs.
// Both poll Stats on a timer; nothing here is called per byte or per item.

import type { Stats } from '../types.js';
import { clock, groupDigits, humanBytes, humanDuration, humanRate } from './format.js';
import { Sampler, countText, withNewline, type Snapshot } from './snapshot.js';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

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
      return startLines(o);
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

// ---------------------------------------------------------------------------------------------
// Lines mode

function startLines(o: ProgressOptions): Progress {
  const interval = o.intervalMs !== undefined && Number.isFinite(o.intervalMs) && o.intervalMs > 0 ? o.intervalMs : 10_000;
  // The rate of a status line covers the interval since the previous line, which is what a
  // reader of the log compares line to line.
  const sampler = new Sampler(interval);
  sampler.seed(o.stats, performance.now());
  const timer = setInterval(() => {
    o.stream.write(formatStatusLine(sampler.snapshot(o.stats, performance.now()), o.noun) + '\n');
  }, interval);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
    },
    log(line) {
      o.stream.write(withNewline(line));
    },
  };
}
