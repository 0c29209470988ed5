// The end-of-run outputs: the text report, the JSON report, the failure list behind it,
// the --save-failed file and the per-item verbose lines.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

import type { EventBus, InvalidInput, ItemResult, RunEvent, RunStats } from '../types.js';
import { elapsed, humanBytes, humanRate } from './format.js';
import { escapeControls, maskUrl } from '../text.js';

export interface ReportContext {
  /** Why the run stopped before its end on its own (the disk is full), if it did. */
  stopped?: string;
  noun: 'files' | 'flags';
  stats: RunStats;
  elapsedMs: number;
  limits: { total: number; perHost: number };
  version: string;
}

// ---------------------------------------------------------------------------------------------
// Text report

/**
 * The flags2-style report of SPEC.md. Zero counts are left out so a clean run reads as two lines.
 *
 * The files/s figure counts downloaded files, which is what the SPEC example works out to
 * (18 files in 1.27 s = 14.2 files/s); MB/s is every body byte received in this run.
 */
export function textReport(ctx: ReportContext): string {
  const s = ctx.stats;
  const singular = ctx.noun === 'files' ? 'file' : 'flag';
  const lines = ['-'.repeat(20)];
  const anything = s.downloaded + s.unchanged + s.skipped + s.notFound + s.failed + s.invalid > 0;
  if (!anything) {
    lines.push('Nothing to download.');
  } else {
    if (s.downloaded > 0) {
      const noun = s.downloaded === 1 ? singular : ctx.noun;
      lines.push(`${s.downloaded} ${noun} downloaded (${humanBytes(s.bytesDone)}).`);
    }
    if (s.skipped > 0) lines.push(`${s.skipped} skipped (already present).`);
    if (s.unchanged > 0) lines.push(`${s.unchanged} unchanged (not modified).`);
    if (s.notFound > 0) lines.push(`${s.notFound} not found.`);
    if (s.failed > 0) lines.push(`${s.failed} ${s.failed === 1 ? 'error' : 'errors'}.`);
    if (s.invalid > 0) lines.push(`${s.invalid} invalid input ${s.invalid === 1 ? 'line' : 'lines'}.`);
  }
  if (ctx.stopped) lines.push(`Stopped early: ${ctx.stopped}. Partial files are kept; run again to resume.`);
  // A run that ends within the clock's resolution must not print Infinity or NaN.
  const secs = ctx.elapsedMs > 0 ? ctx.elapsedMs / 1000 : 0;
  const perSec = secs > 0 ? s.downloaded / secs : 0;
  const bytesPerSec = secs > 0 ? s.bytes / secs : 0;
  lines.push(
    `Elapsed time: ${elapsed(ctx.elapsedMs)} (${perSec.toFixed(1)} ${ctx.noun}/s, ${humanRate(bytesPerSec)})`,
  );
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Failure list

export interface FailureEntry {
  url: string;
  status?: number;
  error?: string;
  attempts: number;
  kind: 'failed' | 'notFound' | 'invalid';
  source?: string;
  line?: number;
}

/** Why a failed item has no message: keep the report's `error` a string in every entry. */
function errorText(error: string | undefined, status: number | undefined): string {
  if (error) return error;
  return status !== undefined ? `HTTP ${status}` : 'unknown error';
}

/** Turns a bus event into a failure entry, or undefined when the event is not a failure. */
export function failureFromEvent(ev: RunEvent): FailureEntry | undefined {
  if (ev.type === 'done') {
    const r = ev.result;
    if (r.outcome !== 'failed' && r.outcome !== 'notFound') return undefined;
    const e: FailureEntry = { url: maskUrl(r.item.url.href), attempts: r.attempts, kind: r.outcome };
    if (r.status !== undefined) e.status = r.status;
    e.error = errorText(r.error, r.status);
    return e;
  }
  if (ev.type === 'invalid') {
    const inv = ev.invalid;
    return { url: inv.text, error: inv.reason, attempts: 0, kind: 'invalid', source: inv.source, line: inv.line };
  }
  return undefined;
}

/**
 * Every failed, not-found and invalid item, in the order they were reported.
 * A ten-million-line list can fail wholesale (a dead host), so only the first `memoryLimit` entries
 * stay in memory; the rest go to a JSON-lines spill file in the temp directory, removed by close()
 * (and, as a last resort, when the process exits).
 */
export class FailureLog {
  private readonly memory: FailureEntry[] = [];
  private readonly memoryLimit: number;
  private readonly tmpRoot: string;
  private spillDir: string | undefined;
  private spillPath: string | undefined;
  private spillFd: number | undefined;
  // Spilled lines are batched: a write syscall per failure would slow a run that fails fast.
  private pending: string[] = [];
  private pendingChars = 0;
  private total = 0;
  private closed = false;
  private readonly onExit = (): void => this.removeSpillSync();

  constructor(opts: { memoryLimit?: number; tmpDir?: string } = {}) {
    this.memoryLimit = opts.memoryLimit ?? 10_000;
    this.tmpRoot = opts.tmpDir ?? os.tmpdir();
  }

  get count(): number {
    return this.total;
  }

  /** Whether entries went to the spill file (for tests and diagnostics). */
  get spilled(): boolean {
    return this.spillPath !== undefined;
  }

  attach(bus: EventBus): this {
    bus.on((ev) => this.handle(ev));
    return this;
  }

  handle(ev: RunEvent): void {
    const e = failureFromEvent(ev);
    if (e) this.add(e);
  }

  add(e: FailureEntry): void {
    if (this.closed) return;
    this.total++;
    if (this.memory.length < this.memoryLimit) {
      this.memory.push(e);
      return;
    }
    const line = JSON.stringify(e) + '\n';
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= 64 * 1024) this.flush();
  }

  async *entries(): AsyncGenerator<FailureEntry> {
    // Copy the bound first: entries added while a report is being written are not part of it.
    const inMemory = this.memory.length;
    for (let i = 0; i < inMemory; i++) yield this.memory[i]!;
    if (this.spillPath === undefined && this.pending.length === 0) return;
    this.flush();
    if (this.spillPath === undefined) return;
    const input = fs.createReadStream(this.spillPath, { encoding: 'utf8' });
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (line) yield JSON.parse(line) as FailureEntry;
      }
    } finally {
      rl.close();
      input.destroy();
    }
  }

  /** Drops the spill file; the log is empty afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = [];
    this.pendingChars = 0;
    this.removeSpillSync();
  }

  /** Same as close(), under the name the orchestrator uses for end-of-run cleanup. */
  dispose(): Promise<void> {
    return this.close();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    if (this.spillFd === undefined) {
      this.spillDir = fs.mkdtempSync(path.join(this.tmpRoot, 'bulkget-failures-'));
      this.spillPath = path.join(this.spillDir, 'failures.jsonl');
      this.spillFd = fs.openSync(this.spillPath, 'w', 0o600);
      process.once('exit', this.onExit);
    }
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    fs.writeSync(this.spillFd, chunk);
  }

  private removeSpillSync(): void {
    if (this.spillFd !== undefined) {
      try {
        fs.closeSync(this.spillFd);
      } catch {
        // already closed: nothing to release
      }
      this.spillFd = undefined;
    }
    if (this.spillDir !== undefined) {
      fs.rmSync(this.spillDir, { recursive: true, force: true });
      this.spillDir = undefined;
      this.spillPath = undefined;
      process.removeListener('exit', this.onExit);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON report

/** Writes with back-pressure, so a long failure list is never queued in memory behind a slow pipe. */
async function put(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  failIfBroken(out);
  if (out.write(chunk)) return;
  // 'drain' never comes to a stream that failed or closed meanwhile: wait for whichever happens.
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      out.removeListener('drain', onDrain);
      out.removeListener('error', onError);
      out.removeListener('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new Error('report output closed before the report was written'));
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}

function failIfBroken(out: NodeJS.WritableStream): void {
  if (out instanceof Writable && (out.errored || out.destroyed)) {
    throw out.errored ?? new Error('report output closed before the report was written');
  }
}

function indent(json: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return json
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

/** The key order of a failure in the JSON report: kind-specific fields, no undefined keys. */
function reportFailure(e: FailureEntry): Record<string, unknown> {
  if (e.kind === 'invalid') {
    return { url: e.url, error: e.error ?? '', attempts: e.attempts, kind: e.kind, source: e.source, line: e.line };
  }
  // `status` stays in the schema even with no response (a refused connection): null says "none".
  return { url: e.url, status: e.status ?? null, error: errorText(e.error, e.status), attempts: e.attempts, kind: e.kind };
}

async function streamJsonReport(ctx: ReportContext, failures: FailureLog, out: NodeJS.WritableStream): Promise<void> {
  const s = ctx.stats;
  const head = {
    version: ctx.version,
    startedAt: s.startedAt.toISOString(),
    elapsedMs: Math.round(ctx.elapsedMs),
    limits: { total: ctx.limits.total, perHost: ctx.limits.perHost },
    counts: {
      downloaded: s.downloaded,
      unchanged: s.unchanged,
      skipped: s.skipped,
      notFound: s.notFound,
      failed: s.failed,
      invalid: s.invalid,
    },
    bytes: s.bytes,
    retries: s.retries,
    ...(ctx.stopped ? { stopped: ctx.stopped } : {}),
  };
  // The head is small and built by JSON.stringify; only the failure list is streamed by hand.
  const headJson = JSON.stringify(head, null, 2);
  let buf = headJson.slice(0, -2) + ',\n  "failures": [';
  let first = true;
  for await (const e of failures.entries()) {
    buf += (first ? '\n' : ',\n') + indent(safeJson(reportFailure(e), 2), 4);
    first = false;
    if (buf.length >= 64 * 1024) {
      await put(out, buf);
      buf = '';
    }
  }
  buf += (first ? ']' : '\n  ]') + '\n}\n';
  await put(out, buf);
}

/**
 * The JSON report of SPEC.md to a stream, to stdout (`-`), or to a file (see ReportFile).
 * A stream passed in is left open: its owner decides when it ends.
 */
export async function writeJsonReport(
  ctx: ReportContext,
  failures: FailureLog,
  out: NodeJS.WritableStream | string,
): Promise<void> {
  if (typeof out !== 'string') return streamJsonReport(ctx, failures, out);
  if (out === '-') return streamJsonReport(ctx, failures, process.stdout);
  return ReportFile.open(out).write(ctx, failures);
}

/**
 * The --report FILE, opened before the run so that an unwritable path is a one-line usage error
 * then, not a failure after every download. A regular file (or a new one) is written as FILE.tmp
 * and renamed into place, so a reader (a cron job's monitor) never sees half a report. Anything
 * else (a FIFO, /dev/stdout) is written to directly: renaming over it would replace it.
 */
export class ReportFile {
  private constructor(
    readonly path: string,
    private fd: number,
    private readonly tmp: string | undefined,
  ) {}

  static open(path: string): ReportFile {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(path);
    } catch {
      // Not there yet.
    }
    if (st && !st.isFile()) return new ReportFile(path, openForWriting(path), undefined);
    // A name nobody can guess, created exclusively and never through a link: a FILE.tmp symlink
    // planted beside the report must not be followed.
    const tmp = path.replace(/[^/]*$/, (base) => `.${base}.${randomBytes(6).toString('hex')}.tmp`);
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    return new ReportFile(path, fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0), 0o644), tmp);
  }

  async write(ctx: ReportContext, failures: FailureLog): Promise<void> {
    const fd = this.fd;
    this.fd = -1;
    const ws = fs.createWriteStream('', { fd });
    // Errors surface through put() and finished(); this listener only keeps one from being uncaught.
    ws.on('error', () => undefined);
    try {
      await streamJsonReport(ctx, failures, ws);
      ws.end();
      await finished(ws);
      if (this.tmp) await rename(this.tmp, this.path);
    } catch (err) {
      ws.destroy();
      if (this.tmp) await rm(this.tmp, { force: true });
      throw err;
    }
  }

  /** The run ended without a report: nothing is left behind. */
  discard(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    if (this.tmp) fs.rmSync(this.tmp, { force: true });
  }
}

/**
 * fs.openSync(file, 'w'), except that a FIFO nobody reads is an error (ENXIO) instead of an open
 * that blocks the whole process for good, where not even Ctrl-C gets through. A FIFO with a reader
 * (`--save-failed >(gzip > failed.gz)`) is opened as usual.
 */
function openForWriting(file: string, mode = 0o666): number {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    // Not there yet: created by the open below.
  }
  if (st?.isFIFO()) {
    // Non-blocking, this open fails at once when no process has the FIFO open for reading.
    let probe: number;
    try {
      probe = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw new Error('it is a FIFO that no process is reading');
      throw err;
    }
    try {
      return fs.openSync(file, 'w'); // a reader is there: this does not block
    } finally {
      fs.closeSync(probe);
    }
  }
  const fd = fs.openSync(file, 'w', mode);
  // An existing regular file keeps its old mode through open(): set ours.
  if (mode !== 0o666 && (st === undefined || st.isFile())) fs.fchmodSync(fd, mode);
  return fd;
}

// ---------------------------------------------------------------------------------------------
// --save-failed

/**
 * JSON with no raw control character in it: JSON.stringify escapes C0 but leaves DEL and the C1
 * controls as they are (U+009B alone is a CSI on many terminals); those become \u escapes too.
 */
export function safeJson(v: unknown, space?: number): string {
  return JSON.stringify(v, null, space).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One line, no control characters: a line break would split a record, an ESC drive a terminal. */
function oneLine(s: string): string {
  return escapeControls(s.replace(/[\r\n]+/g, ' '));
}

/**
 * `--save-failed FILE`: every failed and not-found item as a line of the input format, so
 * `bulkget -i FILE` retries exactly those, writing to the same paths. Invalid lines cannot be retried
 * as they are, so they become `#` comments: skipped by the reader, visible to whoever fixes them.
 */
export class SaveFailedWriter {
  private readonly stream: fs.WriteStream;
  private error: Error | undefined;
  private written = 0;
  private closed = false;

  /** Opens FILE (see the constructor); async for callers that await their setup steps. */
  static async open(file: string): Promise<SaveFailedWriter> {
    return new SaveFailedWriter(file);
  }

  /** Opens FILE at once, so an unwritable path is reported before any request is made. */
  constructor(file: string) {
    // It keeps the URLs' passwords (so that a retry from it works): private to its owner.
    const fd = openForWriting(file, 0o600);
    this.stream = fs.createWriteStream(file, { fd });
    // Remember a late write failure (disk full) and report it from close() instead of crashing.
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
  }

  get count(): number {
    return this.written;
  }

  attach(bus: EventBus): this {
    bus.on((ev) => this.handle(ev));
    return this;
  }

  handle(ev: RunEvent): void {
    if (ev.type === 'done') this.addResult(ev.result);
    else if (ev.type === 'invalid') this.addInvalid(ev.invalid);
  }

  /** Records a failed or not-found item; other outcomes are ignored. */
  addResult(r: ItemResult): void {
    if (this.closed || (r.outcome !== 'failed' && r.outcome !== 'notFound')) return;
    const rec: Record<string, unknown> = { url: r.item.url.href, out: r.item.out };
    if (r.item.sha256 !== undefined) rec.sha256 = r.item.sha256;
    if (r.item.size !== undefined) rec.size = r.item.size;
    if (r.status !== undefined) rec.status = r.status;
    rec.error = errorText(r.error, r.status);
    this.write(safeJson(rec) + '\n');
  }

  addInvalid(inv: InvalidInput): void {
    if (this.closed) return;
    this.write(`# invalid ${inv.source}:${inv.line}: ${oneLine(inv.text)} (${oneLine(inv.reason)})\n`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
    try {
      await finished(this.stream);
    } catch (err) {
      this.error ??= err as Error;
    }
    if (this.error) throw this.error;
  }

  private write(line: string): void {
    this.written++;
    this.stream.write(line);
  }
}

// ---------------------------------------------------------------------------------------------
// Verbose lines

/**
 * Per-item lines on stderr. Failures and invalid input are always shown (quiet keeps errors);
 * successes and not-found only with --verbose. `opts.log`, when given, is used instead of writing to
 * `err` directly, so lines can go through the progress bar's log() and not tear the bar.
 */
export function attachVerbose(
  bus: EventBus,
  err: NodeJS.WritableStream,
  opts: { quiet: boolean; verbose: boolean; log?: (line: string) => void },
): void {
  const emit = opts.log ?? ((line: string) => void err.write(line + '\n'));
  const verbose = opts.verbose && !opts.quiet;
  bus.on((ev) => {
    if (ev.type === 'invalid') {
      const inv = ev.invalid;
      emit(`*** Invalid input ${inv.source}:${inv.line}: ${oneLine(inv.reason)}`);
      return;
    }
    if (ev.type !== 'done') return;
    const r = ev.result;
    if (r.outcome === 'failed') {
      emit(`*** Error for ${oneLine(maskUrl(r.item.url.href))}: ${oneLine(errorText(r.error, r.status))}`);
      return;
    }
    if (!verbose) return;
    const label = oneLine(r.item.label ?? maskUrl(r.item.url.href));
    switch (r.outcome) {
      case 'downloaded':
        emit(`${label} OK`);
        break;
      case 'unchanged':
        emit(`${label} unchanged`);
        break;
      case 'skipped':
        emit(`${label} skipped`);
        break;
      case 'notFound':
        emit(`${label} not found`);
        break;
    }
  });
}
