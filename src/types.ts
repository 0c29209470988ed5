// The shared vocabulary of the pipeline: sources -> items -> pool -> transfer -> store.
// Every stage speaks in these types; the UI only ever sees RunEvent and RunStats.

/** One line of input, before it is understood. `line` is 1-based. */
export interface RawLine {
  text: string;
  source: string; // file path, "-" for stdin, "argv" for positional URLs, "flags" for country codes
  line: number;
}

/** What a line says, once parsed (pure, see input/lines.ts). */
export type ParsedLine =
  | { kind: 'skip' } // blank line or comment
  | { kind: 'entry'; url: string; out?: string; sha256?: string; size?: number }
  | { kind: 'invalid'; reason: string };

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
}

export type Outcome = 'downloaded' | 'unchanged' | 'skipped' | 'notFound' | 'failed';

export interface ItemResult {
  item: Item;
  outcome: Outcome;
  /** Last HTTP status seen, if any response came back. */
  status?: number;
  /** Why it failed (one line, no stack), for failed and notFound. */
  error?: string;
  /** Requests made for this item (redirect hops and retries included). */
  attempts: number;
  /** Body bytes received for this item in this run. */
  bytes: number;
}

export interface InvalidInput {
  source: string;
  line: number;
  text: string;
  reason: string;
}

/**
 * Typed lifecycle events. Per-byte progress is NOT an event (it would put an emit on the
 * per-chunk hot path); it is read from RunStats by whoever draws progress, on a timer.
 */
export type RunEvent =
  | { type: 'queued'; item: Item } // the item entered the run (total grows)
  | { type: 'input-end'; total: number } // the input is read to its end
  | { type: 'invalid'; invalid: InvalidInput }
  | { type: 'retry'; item: Item; attempt: number; delayMs: number; reason: string }
  | { type: 'done'; result: ItemResult };

export type Listener = (event: RunEvent) => void;

/** Live counters, mutated by the stages, read by the UI and the report. */
export interface RunStats {
  startedAt: Date;
  startedMs: number; // performance.now() at start
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
}

export function newStats(): RunStats {
  return {
    startedAt: new Date(),
    startedMs: performance.now(),
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
  };
}

/** A tiny synchronous typed emitter: cheaper than EventEmitter and with a closed event type. */
export class EventBus {
  private listeners: Listener[] = [];
  on(listener: Listener): void {
    this.listeners.push(listener);
  }
  emit(event: RunEvent): void {
    for (const l of this.listeners) l(event);
  }
}
