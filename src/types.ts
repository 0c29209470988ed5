// The shared vocabulary of the pipeline: sources -> items -> pool -> transfer -> store. Every
// stage speaks in these types and knows the others only through the interfaces here; the UI and
// library users see DownloadEvents, Stats and Summary.

import type { Dispatcher } from 'undici';
import { nowMs } from './clock.js';

// --- what goes in ------------------------------------------------------------------------------

/**
 * One item as a library user gives it: a URL, or a line in the input format (`URL`, `URL PATH`, or
 * a JSON object), or an object with the URL and optional output path, SHA-256 and size.
 */
export type DownloadItem = string | ItemSpec | InputLine;

export interface ItemSpec {
  url: string;
  /** Output path relative to DEST (sub-folders allowed); default: the URL's last segment. */
  out?: string;
  /** Lower-case hex; the file is verified before it takes its name. */
  sha256?: string;
  /** Expected length in bytes, verified the same way. */
  size?: number;
  /** A short label for displays (the flags command shows the country code). */
  label?: string;
}

/** A line of input text and where it came from, for reports that name `source:line`. */
export interface InputLine {
  text: string;
  source: string;
  line: number;
}

/** One line of input, before it is understood. `line` is 1-based. */
export interface RawLine extends InputLine {
  /** The line was longer than the reader keeps: its text is not there. */
  overlong?: boolean;
  /** Already structured (an ItemSpec): no text to parse. */
  spec?: ItemSpec;
  /** A --jobs thread's item: whether its name was given in the input (the spec's `out` is always set there). */
  given?: boolean;
}

/**
 * Lines that can also be taken many at a time: the CLI's files and stdin hand over every line of a
 * 16 KiB piece at once. Read one by one, each line cost four layers of async iteration (reader,
 * inputs, the library's source, the abort guard), a promise and an iterator result in each: 7%
 * of the CPU of 100,000 x 4 KiB (7.50 -> 6.96 CPU s, 5 interleaved rounds, Node 20.20).
 */
export const LINE_BATCHES: unique symbol = Symbol('bulkget.lineBatches');

export interface BatchedLines extends AsyncIterable<RawLine> {
  [LINE_BATCHES](): AsyncIterator<readonly RawLine[]>;
}

export function isBatched(x: object): x is BatchedLines {
  return LINE_BATCHES in x;
}

export interface ParsedEntry {
  kind: 'entry';
  url: URL;
  out?: string;
  sha256?: string;
  size?: number;
}

/** What a line says, once parsed (pure, see items/lines.ts). */
export type ParsedLine = { kind: 'skip' } | ParsedEntry | { kind: 'invalid'; reason: string };

/** A unit of work: one URL bound to one path inside DEST, decided at read time in input order. */
export interface Item {
  seq: number; // 0-based position among accepted items (input order)
  url: URL;
  /** Relative path inside DEST, '/'-separated, already sanitised and collision-suffixed. */
  out: string;
  sha256?: string; // lower-case hex, verified before the rename
  size?: number; // expected byte length, verified before the rename
  source: string;
  line: number;
  /** Display label (the flags command uses the upper-case country code). */
  label?: string;
  /** The output path was given in the input: --content-disposition does not rename it (curl -o, wget -O). */
  given?: true;
}

// --- what comes out ----------------------------------------------------------------------------

export type Outcome = 'downloaded' | 'unchanged' | 'skipped' | 'notFound' | 'failed';

export interface ItemResult {
  item: Item;
  /** The URL as listed (credentials included: it is the caller's own; displays mask them). */
  url: string;
  /** Where the file is, relative to DEST: item.out, or the server's name (Content-Disposition). */
  out: string;
  outcome: Outcome;
  /** Last HTTP status seen, if any response came back. */
  status?: number;
  /** Why it failed (one line, no stack, no control characters), for failed and notFound. */
  error?: string;
  /** Requests made for this item (redirect hops and retries included). */
  attempts: number;
  /** Body bytes received for this item in this run. */
  bytes: number;
  /** Time spent in its requests, ms (not waiting for a connection or between retries). */
  timeMs: number;
}

export interface InvalidInput {
  source: string;
  line: number;
  /** The line as shown: control characters escaped, passwords masked, at most 200 characters. */
  text: string;
  reason: string;
}

export interface RetryInfo {
  item: Item;
  attempt: number;
  delayMs: number;
  reason: string;
}

/** Live counters, mutated by the stages, read by displays on a timer. */
export interface Stats {
  startedAt: Date;
  startedMs: number; // nowMs() at start: ms since the process started (process.uptime()), for spans
  queued: number; // items accepted so far (grows while input streams)
  inputDone: boolean;
  downloaded: number;
  unchanged: number;
  skipped: number;
  notFound: number;
  failed: number;
  invalid: number;
  /** Body bytes received in this run (all attempts). */
  bytes: number;
  /** Bytes of files completed (downloaded) in this run, for the report's size. */
  bytesDone: number;
  retries: number;
  /** Sockets open right now, as undici reports them (connect/disconnect). */
  openConnections: number;
  /** Requests in flight right now. */
  active: number;
  /** Body bytes still to come of the bodies in flight whose length was announced (for the ETA). */
  awaited: number;
}

export function newStats(): Stats {
  return {
    startedAt: new Date(),
    startedMs: nowMs(),
    queued: 0,
    inputDone: false,
    downloaded: 0,
    unchanged: 0,
    skipped: 0,
    notFound: 0,
    failed: 0,
    invalid: 0,
    bytes: 0,
    bytesDone: 0,
    retries: 0,
    openConnections: 0,
    active: 0,
    awaited: 0,
  };
}

export interface FailureEntry {
  url: string;
  status?: number | null;
  error: string;
  attempts: number;
  kind: 'failed' | 'notFound' | 'invalid';
  source?: string;
  line?: number;
}

/** One endpoint's share of a run, for the report's `hosts`. */
export interface HostEntry {
  /** scheme://host[:port], as URL.origin writes it */
  host: string;
  downloaded: number;
  /** Items that failed or were not found. */
  failed: number;
  bytes: number;
  retries: number;
  /** Items of this host that finished (all outcomes); not in the JSON report. */
  items?: number;
  /** Time spent in this host's requests, ms; not in the JSON report. */
  timeMs?: number;
}

/** The end of a run: the JSON report's shape (SPEC "Progress, report, exit status"). */
export interface Summary {
  version: string;
  startedAt: string;
  elapsedMs: number;
  limits: { total: number; perHost: number };
  counts: { downloaded: number; unchanged: number; skipped: number; notFound: number; failed: number; invalid: number };
  bytes: number;
  retries: number;
  /** Failed, not-found and invalid items, the first `keepFailures` of them (see DownloadOptions). */
  failures: FailureEntry[];
  /** Each endpoint's share, busiest first, at most 100. */
  hosts: HostEntry[];
  /** Failures beyond those kept in `failures`. */
  failuresLeftOut: number;
  /** The run was stopped by its signal (or abort()) before its end. */
  interrupted: boolean;
  /** Why the run stopped on its own before its end (the disk is full), if it did. */
  stopped?: string;
}

/** Typed events of a Download (Node's EventEmitter, see engine/download.ts). */
export interface DownloadEvents {
  /** An item entered the run (the total grows while input streams). */
  queued: [item: Item];
  /** The input was read to its end: `total` items in all. */
  'input-end': [total: number];
  invalid: [invalid: InvalidInput];
  retry: [retry: RetryInfo];
  /** An item finished (downloaded, unchanged, skipped, not found or failed). */
  result: [result: ItemResult];
  /** The counters, every `progressInterval` ms while the run goes on. */
  progress: [stats: Stats];
}

// --- how the stages meet -----------------------------------------------------------------------

/** What stages report as they go: the Download turns these into its events. */
export interface Reporter {
  queued(item: Item): void;
  invalid(invalid: InvalidInput): void;
  retry(info: RetryInfo): void;
  result(result: ItemResult): void;
  inputEnd(total: number): void;
}

/** A connection slot lent by the pool: one socket at most, to one endpoint. */
export interface Lease {
  readonly client: Dispatcher;
  readonly origin: string;
  /** Give the slot back. Idempotent. The caller must have consumed or destroyed the body. */
  release(): void;
}

/** The pool as the transfer stage sees it. */
export interface Slots {
  /** Waits for a slot on `origin`; `front` keeps an item's place (retries, redirect hops). */
  acquire(origin: string, front: boolean): Promise<Lease>;
  /** Stops new requests to `origin` until `untilMs` (Date.now() clock): a 429/503 Retry-After. */
  pause(origin: string, untilMs: number): void;
  /** Closes the idle sockets of `origin`: the next requests there connect afresh. */
  refresh(origin: string): void;
}

/** The name allocator as the transfer stage sees it (Content-Disposition names). */
export interface Names {
  /** The path to use for this key, or null when the key already holds a name for `path`. */
  assign(path: string, key: string): string | null;
}
