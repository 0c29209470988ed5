// Live progress on stderr: a cli-progress bar for terminals, plain periodic lines for logs.
// Both poll Stats on a timer; nothing here is called per byte or per item.

import * as readline from 'node:readline';
import cliProgress, { type GenericFormatter, type Options as BarOptions } from 'cli-progress';

import type { Stats } from '../types.js';
import { clock, groupDigits, humanBytes, humanDuration, humanRate } from './format.js';

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

const BAR_REDRAW_MS = 100;
const RATE_WINDOW_MS = 5000;

export function startProgress(o: ProgressOptions): Progress {
  let mode = o.mode;
  if (mode === 'auto') mode = o.stream.isTTY ? 'bar' : 'none';
  // Escape codes and carriage returns in a log file or a pipe are noise: the plain lines say the same.
  if (mode === 'bar' && !o.stream.isTTY) mode = 'lines';
  switch (mode) {
    case 'bar':
      return startBar(o);
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

function withNewline(line: string): string {
  return line.endsWith('\n') ? line : line + '\n';
}

// ---------------------------------------------------------------------------------------------
// What is shown, computed from the counters

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
class Sampler {
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
    if (s.inputDone && donePerSec > 0) snap.etaMs = ((snap.total - done) / donePerSec) * 1000;
    return snap;
  }

  /** Starts the window at the run's start, so the first redraws already show a rate. */
  seed(s: Stats, now: number): void {
    const fresh = now - s.startedMs < this.windowMs;
    this.samples = [fresh ? { t: s.startedMs, bytes: 0, done: 0 } : { t: now, bytes: s.bytes, done: finished(s) }];
  }
}

function countText(s: Snapshot, noun: string): string {
  return `${groupDigits(s.done)}/${groupDigits(s.total)}${s.totalKnown ? '' : '+'} ${noun}`;
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

const GLYPH_DONE = '\u2588';
const GLYPH_TODO = '\u2591';
const SGR_CYAN = '\x1b[36m';
const SGR_RED = '\x1b[31m';
const SGR_RESET_FG = '\x1b[39m';

/**
 * The bar line, fitted to `width` columns: fields drop out least-important first on a narrow
 * terminal, and the bar itself only takes what is left, so the line never wraps (a wrapped line
 * cannot be redrawn in place with `\r`).
 */
export function formatBarLine(s: Snapshot, noun: 'files' | 'flags', width: number, color: boolean): string {
  interface Field {
    text: string;
    drop: number; // higher drops first
    sgr?: string;
  }
  const fields: Field[] = [
    { text: countText(s, noun), drop: 0 },
    { text: humanBytes(s.bytes), drop: 4 },
    { text: humanRate(s.bytesPerSec), drop: 3 },
    { text: `${groupDigits(s.connections)} conn`, drop: 5 },
    { text: `${groupDigits(s.retries)} retries`, drop: 6 },
    { text: `${groupDigits(s.failures)} failed`, drop: 1, sgr: s.failures > 0 ? SGR_RED : undefined },
  ];
  if (s.totalKnown && s.etaMs !== undefined && s.done < s.total) fields.push({ text: `ETA ${humanDuration(s.etaMs)}`, drop: 2 });

  // One column stays free: writing the last column puts some terminals into a pending wrap.
  const avail = Math.max(1, width - 1);
  const visible = (fs: Field[]): number => fs.reduce((n, f) => n + f.text.length, 0) + 3 * (fs.length - 1);
  let shown = fields;
  while (visible(shown) > avail && shown.length > 1) {
    const worst = shown.reduce((a, b) => (b.drop > a.drop ? b : a));
    shown = shown.filter((f) => f !== worst);
  }
  const paint = (text: string, sgr: string | undefined): string =>
    color && sgr && text ? `${sgr}${text}${SGR_RESET_FG}` : text;
  let text = shown.map((f) => paint(f.text, f.sgr)).join(' | ');
  if (visible(shown) > avail) text = shown[0]!.text.slice(0, avail);

  const barWidth = Math.min(30, avail - visible(shown) - 1);
  if (barWidth < 10) return text;
  const ratio = s.total > 0 ? Math.min(1, s.done / s.total) : 0;
  const full = Math.round(ratio * barWidth);
  const bar = paint(GLYPH_DONE.repeat(full), SGR_CYAN) + GLYPH_TODO.repeat(barWidth - full);
  return `${bar} ${text}`;
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

// ---------------------------------------------------------------------------------------------
// Bar mode

/**
 * The terminal cli-progress draws through. Ours differs from its default in two ways: it never saves
 * and restores the cursor (lines logged above the bar scroll it, so a restored position would clear
 * the wrong row and leave the bar behind), and it never toggles line wrapping (a crash between the
 * two toggles would leave the user's terminal without wrapping); formatBarLine fits the width instead.
 */
class BarTerminal {
  /** The last bar text drawn, to put the bar back after a logged line. */
  lastLine = '';

  constructor(private readonly stream: NodeJS.WriteStream) {}

  cursorSave(): void {}
  cursorRestore(): void {}
  cursor(_enabled: boolean): void {}
  lineWrapping(_enabled: boolean): void {}
  cursorRelativeReset(): void {}

  cursorTo(x: number | null = null, y: number | null = null): void {
    if (x === 0 && y === null) this.stream.write('\r');
    else readline.cursorTo(this.stream, x ?? 0, y ?? undefined);
  }

  cursorRelative(dx: number | null = null, dy: number | null = null): void {
    readline.moveCursor(this.stream, dx ?? 0, dy ?? 0);
  }

  clearRight(): void {
    this.stream.write('\x1b[K');
  }

  clearLine(): void {
    this.stream.write('\x1b[2K');
  }

  clearBottom(): void {
    this.stream.write('\x1b[J');
  }

  newline(): void {
    this.stream.write('\n');
  }

  write(s: string): void {
    this.stream.write(s);
    this.lastLine = s;
  }

  isTTY(): boolean {
    return true;
  }

  getWidth(): number {
    return this.stream.columns || 80;
  }
}

class StatsBar extends cliProgress.SingleBar {
  override render(): void {
    super.render();
    // cli-progress re-arms its redraw timer on every render and never unrefs it; a progress bar
    // must never be what keeps the process alive after the run is over.
    (this as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref();
  }
}

function startBar(o: ProgressOptions): Progress {
  const terminal = new BarTerminal(o.stream);
  const sampler = new Sampler(RATE_WINDOW_MS);
  sampler.seed(o.stats, performance.now());
  const color = !o.noColor;
  // cli-progress calls the format function on each timer tick, so the line is rebuilt from the live
  // counters at most 1000/BAR_REDRAW_MS times a second, and only written when it changed.
  const format: GenericFormatter = (_options, params) =>
    formatBarLine(sampler.snapshot(o.stats, performance.now()), o.noun, params.maxWidth, color);
  const options: BarOptions & { terminal: BarTerminal } = {
    stream: o.stream,
    terminal,
    format,
    fps: 1000 / BAR_REDRAW_MS,
    clearOnComplete: true,
    hideCursor: false,
    // true only means "do not send the wrap on/off sequences"; BarTerminal ignores both anyway.
    linewrap: true,
    synchronousUpdate: false,
    gracefulExit: false,
  };
  const bar = new StatsBar(options);
  bar.start(1, 0);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      // Final redraw, then `\r` + erase line: the cursor is left at the start of an empty line, so
      // the report prints cleanly and no blank line is left behind.
      bar.stop();
    },
    log(line) {
      if (stopped) {
        o.stream.write(withNewline(line));
        return;
      }
      // Erase the bar, print the line where it was, and draw the bar again below it, in one write
      // so the terminal never shows a torn state.
      const redraw = terminal.lastLine ? `${terminal.lastLine}\x1b[K` : '';
      o.stream.write(`\r\x1b[2K${withNewline(line)}${redraw}`);
    },
  };
}
