// The JSON report of SPEC.md: the summary's counters, then every failure, streamed.

import { uniqueHex } from '../unique.js';
import * as fs from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { FailureEntry, Summary } from '../types.js';
import type { FailureLog } from './failures.js';
import { openForWriting, put, safeJson } from './outputs.js';

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
    return { url: e.url, error: e.error, attempts: e.attempts, kind: e.kind, source: e.source, line: e.line };
  }
  // `status` stays in the schema even with no response (a refused connection): null says "none".
  return { url: e.url, status: e.status ?? null, error: e.error, attempts: e.attempts, kind: e.kind };
}

async function streamJsonReport(summary: Summary, failures: FailureLog, out: NodeJS.WritableStream): Promise<void> {
  // The summary's own failure list is capped; the report lists every one, from the FailureLog.
  const head = {
    version: summary.version,
    startedAt: summary.startedAt,
    elapsedMs: summary.elapsedMs,
    limits: summary.limits,
    counts: summary.counts,
    bytes: summary.bytes,
    retries: summary.retries,
    ...(summary.interrupted ? { interrupted: true } : {}),
    ...(summary.stopped ? { stopped: summary.stopped } : {}),
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
  // The hosts, with the report's keys only (the summary's also carry items and time).
  const hosts = summary.hosts.map((h) => ({ host: h.host, downloaded: h.downloaded, failed: h.failed, bytes: h.bytes, retries: h.retries }));
  buf += (first ? ']' : '\n  ]') + ',\n  "hosts": ' + (hosts.length ? '[\n' + hosts.map((h) => '    ' + safeJson(h)).join(',\n') + '\n  ]' : '[]') + '\n}\n';
  await put(out, buf);
}

/**
 * The JSON report of SPEC.md to a stream, to stdout (`-`), or to a file (see ReportFile).
 * A stream passed in is left open: its owner decides when it ends.
 */
export async function writeJsonReport(summary: Summary, failures: FailureLog, out: NodeJS.WritableStream | string): Promise<void> {
  if (typeof out !== 'string') return streamJsonReport(summary, failures, out);
  if (out === '-') return streamJsonReport(summary, failures, process.stdout);
  return ReportFile.open(out).write(summary, failures);
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
    const tmp = path.replace(/[^/]*$/, (base) => `.${base}.${uniqueHex(12)}.tmp`);
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    return new ReportFile(path, fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0), 0o644), tmp);
  }

  async write(summary: Summary, failures: FailureLog): Promise<void> {
    const fd = this.fd;
    this.fd = -1;
    const ws = fs.createWriteStream('', { fd });
    // Errors surface through put() and finished(); this listener only keeps one from being uncaught.
    ws.on('error', () => undefined);
    try {
      await streamJsonReport(summary, failures, ws);
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
