// The progress bar on a terminal: one line, redrawn in place, fitted to the width, with logged
// lines printed above it without tearing it.

import * as readline from 'node:readline';
import cliProgress, { type GenericFormatter, type Options as BarOptions } from 'cli-progress';
import { groupDigits, humanBytes, humanDuration, humanRate } from './format.js';
import type { Progress, ProgressOptions } from './progress.js';
import { Sampler, countText, withNewline, type Snapshot } from './snapshot.js';
import { nowMs } from '../clock.js';

const BAR_REDRAW_MS = 100;
const RATE_WINDOW_MS = 5000;

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

export function startBar(o: ProgressOptions): Progress {
  const terminal = new BarTerminal(o.stream);
  const sampler = new Sampler(RATE_WINDOW_MS);
  sampler.seed(o.stats, nowMs());
  const color = !o.noColor;
  // cli-progress calls the format function on each timer tick, so the line is rebuilt from the live
  // counters at most 1000/BAR_REDRAW_MS times a second, and only written when it changed.
  const format: GenericFormatter = (_options, params) =>
    formatBarLine(sampler.snapshot(o.stats, nowMs()), o.noun, params.maxWidth, color);
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
