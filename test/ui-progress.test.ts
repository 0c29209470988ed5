import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { newStats, type Stats } from '../src/types.js';
import { formatStatusLine, startProgress, type Progress, type ProgressMode } from '../src/ui/progress.js';
import { formatBarLine } from '../src/ui/bar.js';
import type { Snapshot } from '../src/ui/snapshot.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = '/usr/bin/script';

/** Collects everything written, like a pipe or a log file would. */
class Sink extends Writable {
  chunks: string[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** A terminal as far as Node's tty.WriteStream API goes: what cli-progress and readline look at. */
class FakeTTY extends Sink {
  isTTY = true;
  columns = 100;
  rows = 30;
  cursorTo(x: number, y?: number | (() => void), cb?: () => void): boolean {
    return readline.cursorTo(this, x, typeof y === 'number' ? y : undefined, typeof y === 'function' ? y : cb);
  }
  moveCursor(dx: number, dy: number, cb?: () => void): boolean {
    return readline.moveCursor(this, dx, dy, cb);
  }
  clearLine(dir: -1 | 0 | 1, cb?: () => void): boolean {
    return readline.clearLine(this, dir, cb);
  }
  clearScreenDown(cb?: () => void): boolean {
    return readline.clearScreenDown(this, cb);
  }
  getWindowSize(): [number, number] {
    return [this.columns, this.rows];
  }
  hasColors(): boolean {
    return true;
  }
}

function asWriteStream(s: Sink): NodeJS.WriteStream {
  return s as unknown as NodeJS.WriteStream;
}

/** Mutates the counters the way a run does, until the test ends. */
function churn(t: { after: (fn: () => void) => void }, stats: Stats): void {
  const timer = setInterval(() => {
    stats.queued += 10;
    stats.downloaded += 7;
    stats.notFound += 1;
    stats.failed += 1;
    stats.bytes += 250_000;
    stats.retries += 1;
    stats.openConnections = 12;
  }, 20);
  t.after(() => clearInterval(timer));
}

async function start(
  t: { after: (fn: () => void) => void },
  mode: ProgressMode,
  stream: Sink,
  stats: Stats,
  extra: { noColor?: boolean; noun?: 'files' | 'flags' } = {},
): Promise<Progress> {
  const p = await startProgress({ mode, stream: asWriteStream(stream), stats, noun: extra.noun ?? 'files', intervalMs: 50, noColor: extra.noColor ?? false });
  t.after(() => p.stop());
  return p;
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return {
    elapsedMs: 12_300,
    done: 1234,
    total: 5000,
    totalKnown: false,
    bytes: 12_300_000,
    bytesPerSec: 4_100_000,
    connections: 32,
    retries: 3,
    failures: 2,
    ...over,
  };
}

// Escape sequences other than colours: what a terminal needs to redraw in place.
// eslint-disable-next-line no-control-regex
const SGR_COLOUR = /\x1b\[3\dm/;

describe('formatStatusLine', () => {
  it('matches the documented shape', () => {
    assert.equal(
      formatStatusLine(snap(), 'files'),
      '[00:12] 1,234/5,000+ files, 12.3 MB, 4.1 MB/s, 32 connections, 3 retries, 2 failed',
    );
  });

  it('adds an ETA once the total is known, and says flags', () => {
    assert.equal(
      formatStatusLine(snap({ totalKnown: true, etaMs: 185_000, elapsedMs: 3_723_000 }), 'flags'),
      '[1:02:03] 1,234/5,000 flags, 12.3 MB, 4.1 MB/s, 32 connections, 3 retries, 2 failed, ETA 3m05s',
    );
  });
});

describe('formatBarLine', () => {
  it('never exceeds the terminal width and keeps the count', () => {
    for (const width of [10, 20, 40, 60, 80, 100, 200]) {
      for (const color of [false, true]) {
        const line = formatBarLine(snap({ totalKnown: true, etaMs: 42_000 }), 'files', width, color);
        // eslint-disable-next-line no-control-regex
        const visible = line.replace(/\x1b\[[0-9;]*m/g, '');
        assert.ok(visible.length < width, `width ${width}: ${JSON.stringify(visible)}`);
        if (width >= 20) assert.match(visible, /1,234\/5,000 files/);
      }
    }
  });

  it('shows every field and a bar on a wide terminal', () => {
    const line = formatBarLine(snap({ totalKnown: true, etaMs: 42_000 }), 'files', 200, false);
    assert.match(line, /^[\u2588\u2591]{30} 1,234\/5,000 files \| 12\.3 MB \| 4\.1 MB\/s \| 32 conn \| 3 retries \| 2 failed \| ETA 42s$/);
  });

  it('shows no ETA while the total is growing', () => {
    const line = formatBarLine(snap({ etaMs: 42_000 }), 'files', 200, false);
    assert.match(line, /5,000\+ files/);
    assert.doesNotMatch(line, /ETA/);
  });

  it('uses no colour when colour is off', () => {
    assert.doesNotMatch(formatBarLine(snap(), 'files', 120, false), /\x1b/);
    assert.match(formatBarLine(snap(), 'files', 120, true), SGR_COLOUR);
  });
});

describe('startProgress', () => {
  it('bar on a terminal: redraws in place with escape codes, then clears itself', async (t) => {
    const tty = new FakeTTY();
    const stats = newStats();
    churn(t, stats);
    const p = await start(t, 'bar', tty, stats);
    await sleep(350);
    const during = tty.text;
    assert.match(during, /\x1b\[/);
    assert.match(during, /\r/);
    assert.match(during, /\+ files/);
    assert.match(during, /12 conn/);
    // At most ten redraws a second (plus the first): the bar is polled, never pushed per byte.
    const redraws = during.split('\r').length - 1;
    assert.ok(redraws >= 2 && redraws <= 6, `redraws: ${redraws}`);
    stats.inputDone = true;
    p.stop();
    // The bar line is erased and the cursor left at its start: no dangling newline.
    assert.ok(tty.text.endsWith('\r\x1b[2K'), JSON.stringify(tty.text.slice(-40)));
    assert.doesNotMatch(tty.text, /\n/);
    const after = tty.text.length;
    await sleep(250);
    assert.equal(tty.text.length, after, 'nothing is drawn after stop()');
  });

  it('bar: log() prints above the bar and draws it again', async (t) => {
    const tty = new FakeTTY();
    const stats = newStats();
    stats.queued = 3;
    const p = await start(t, 'bar', tty, stats);
    const before = tty.text.length;
    p.log('CN OK');
    const written = tty.text.slice(before);
    assert.ok(written.startsWith('\r\x1b[2KCN OK\n'), JSON.stringify(written));
    assert.match(written.slice('\r\x1b[2KCN OK\n'.length), /0\/3\+ files/);
    p.stop();
    p.log('after stop');
    assert.ok(tty.text.endsWith('\r\x1b[2Kafter stop\n'));
  });

  it('bar honours NO_COLOR: cursor control only, no colours', async (t) => {
    const tty = new FakeTTY();
    const stats = newStats();
    churn(t, stats);
    const p = await start(t, 'bar', tty, stats, { noColor: true });
    await sleep(250);
    p.stop();
    assert.match(tty.text, /\x1b\[/);
    assert.doesNotMatch(tty.text, SGR_COLOUR);
  });

  for (const mode of ['bar', 'lines'] as const) {
    it(`${mode} on a pipe: plain lines, no \\r, no escape codes`, async (t) => {
      const pipe = new Sink();
      const stats = newStats();
      churn(t, stats);
      const p = await start(t, mode, pipe, stats, { noun: 'flags' });
      await sleep(300);
      p.log('*** Error for https://h.example/x: HTTP 500');
      p.stop();
      const text = pipe.text;
      assert.doesNotMatch(text, /\x1b/);
      assert.doesNotMatch(text, /\r/);
      assert.ok(text.endsWith('\n'));
      const lines = text.slice(0, -1).split('\n');
      assert.ok(lines.length >= 3, text);
      for (const chunk of pipe.chunks) assert.ok(chunk.endsWith('\n'), JSON.stringify(chunk));
      const status = lines.filter((l) => l.startsWith('['));
      assert.ok(status.length >= 2);
      for (const l of status) {
        assert.match(l, /^\[00:00\] [\d,]+\/[\d,]+\+ flags, [\d.]+ [kMG]?B, [\d.]+ [kMG]?B\/s, 12 connections, \d+ retr(y|ies), \d+ failed$/);
      }
      assert.equal(lines.at(-1), '*** Error for https://h.example/x: HTTP 500');
      const after = pipe.text.length;
      await sleep(150);
      assert.equal(pipe.text.length, after, 'no line after stop()');
    });
  }

  it('auto on a pipe draws nothing, but log() still writes', async (t) => {
    const pipe = new Sink();
    const stats = newStats();
    churn(t, stats);
    const p = await start(t, 'auto', pipe, stats);
    await sleep(200);
    assert.equal(pipe.text, '');
    p.log('*** Invalid input argv:1: not an absolute URL');
    p.stop();
    assert.equal(pipe.text, '*** Invalid input argv:1: not an absolute URL\n');
  });

  it('auto on a terminal is the bar; none draws nothing', async (t) => {
    const tty = new FakeTTY();
    const p = await start(t, 'auto', tty, newStats());
    p.stop();
    assert.match(tty.text, /files/);
    const quiet = new FakeTTY();
    (await start(t, 'none', quiet, newStats())).stop();
    assert.equal(quiet.text, '');
  });

  it('its timers never hold the process, and stop() ends them', async () => {
    // Unref'ed timers are not listed as active resources: the count must not move while drawing.
    const base = timeouts();
    for (const mode of ['bar', 'lines'] as const) {
      const stream = mode === 'bar' ? new FakeTTY() : new Sink();
      const p = await startProgress({ mode, stream: asWriteStream(stream), stats: newStats(), noun: 'files', intervalMs: 50, noColor: false });
      await sleep(120);
      assert.equal(timeouts(), base, `${mode}: no ref'ed timer`);
      assert.ok(stream.chunks.length > 0, `${mode} drew something`);
      p.stop();
      p.stop();
      const n = stream.chunks.length;
      await sleep(150);
      assert.equal(stream.chunks.length, n, `${mode}: nothing drawn after stop()`);
    }
  });

  it('a process that never calls stop() still exits on its own', async () => {
    const started = performance.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', 'test/fixtures-ui/no-stop.ts'], { cwd: ROOT, timeout: 20_000, encoding: 'utf8' }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
    assert.equal(out, 'started bar and lines\n');
    assert.ok(performance.now() - started < 15_000);
  });

  it('under a real pseudo-terminal the bar reaches it; redirected, auto writes nothing', async (t) => {
    if (!existsSync(SCRIPT)) {
      t.skip('util-linux script(1) is not installed: no way to get a pseudo-terminal');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'bulkget-ui-pty-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const demo = 'node --import tsx test/fixtures-ui/bar-demo.ts';
    const run = (cmd: string): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile(SCRIPT, ['-qec', cmd, '/dev/null'], { cwd: ROOT, timeout: 30_000, encoding: 'utf8' }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        );
      });

    const onTerminal = await run(`${demo} auto 400`);
    assert.match(onTerminal, /\x1b\[/, 'escape codes reach a real terminal');
    assert.match(onTerminal, /files/);
    assert.match(onTerminal, /a line logged above the bar/);
    assert.match(onTerminal, /REPORT/);
    // The bar was erased before the report: the report starts a clean line.
    assert.match(onTerminal, /\r\x1b\[2KREPORT/);

    const autoFile = join(dir, 'auto.err');
    const redirected = await run(`${demo} auto 400 2>${autoFile}`);
    assert.match(redirected, /REPORT/);
    const autoErr = await readFile(autoFile, 'utf8');
    assert.equal(autoErr, 'a line logged above the bar\n');

    const barFile = join(dir, 'bar.err');
    await run(`${demo} bar 400 2>${barFile}`);
    const barErr = await readFile(barFile, 'utf8');
    assert.doesNotMatch(barErr, /[\x1b\r]/, 'a forced bar on a file falls back to plain lines');
    assert.match(barErr, /^\[00:00\] .* files, /m);
  });
});

describe('ETA', () => {
  it('counts the bytes the bodies in flight are still due, so a few big files have one too', async () => {
    const { Sampler } = await import('../src/ui/snapshot.js');
    const s = newStats();
    s.startedMs = 0;
    s.inputDone = true;
    s.queued = 1;
    const sampler = new Sampler(5000);
    sampler.seed(s, 0);
    // One big file, no file done yet: 1,000 bytes in 2 s, 9,000 still due: 18 s.
    s.bytes = 1000;
    s.awaited = 9000;
    assert.equal(Math.round(sampler.snapshot(s, 2000).etaMs!), 18_000);
    // Files finishing fast but a big one still coming: the longer of the two.
    const t = newStats();
    Object.assign(t, { startedMs: 0, inputDone: true, queued: 11, downloaded: 10, bytes: 2000, awaited: 8000 });
    const u = new Sampler(5000);
    u.seed(t, 0);
    assert.equal(Math.round(u.snapshot(t, 1000).etaMs!), 4000, '8,000 bytes at 2,000 B/s, not the count\'s 0.1 s');
    // Nothing announced and nothing finished: no ETA, as before.
    const v = newStats();
    Object.assign(v, { startedMs: 0, inputDone: true, queued: 1, bytes: 500 });
    const w = new Sampler(5000);
    w.seed(v, 0);
    assert.equal(w.snapshot(v, 1000).etaMs, undefined);
  });
});
