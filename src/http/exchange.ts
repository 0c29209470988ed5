// One HTTP request and its response, on a raw undici dispatch handler.
//
// `client.request()` wraps every response in a Readable stream, a promise and an async resource.
// Here the caller decides what to do with the body the moment the head is parsed, and every body
// chunk goes straight from the parser to that decision: one promise per request, no stream, and
// backpressure through the parser's pause and resume. Measured: within noise on 10,000 small files by
// itself; with bodies written as they arrive, 200 x 1 MiB went from 0.8 s to 0.7 s.

import type { Dispatcher } from 'undici';
import type { Watchdog, Watched } from './watchdog.js';
import { describeError, errorCode } from '../errors.js';
import { pickHeaders, type ResponseHeaders } from './head.js';
import { inReset } from './resets.js';

export interface Head {
  status: number;
  headers: ResponseHeaders;
}

/** Where a response body goes. Every method is called from inside undici's parser. */
export interface BodySink {
  /** Given the flow controls before the first chunk. */
  attach?(flow: { resume: () => void; abort: (err: Error) => void }): void;
  /**
   * One chunk, a view on the socket's read buffer: copy it or use it before returning, or keep
   * it until written. False pauses the response until the sink calls `resume`.
   */
  write(chunk: Buffer): boolean;
  /** The body ended complete; the exchange settles when the returned promise does. */
  end(): void | Promise<void>;
  /** The exchange failed after this sink was chosen; it settles when the promise does. */
  fail(err: unknown): void | Promise<void>;
}

/**
 * Called once with the final head (not for 1xx). Returns the sink for the body, or undefined to
 * read the body away. A throw makes the exchange reject with that error once the body is read away,
 * so the socket stays reusable.
 */
type Decide = (head: Head) => BodySink | undefined;

function isParserRefusal(err: unknown): boolean {
  const code = errorCode(err);
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || (code !== undefined && code.startsWith('HPE_'))) return true;
  // An interim `100 Continue` we never asked for (no request of ours has `Expect`): undici drops
  // the socket as a 'bad response'; curl and wget skip such a head, and so do lenient sockets.
  if (code === 'UND_ERR_SOCKET' && (err as Error).message === 'bad response') return true;
  // undici 7 builds the parser's code from a name-to-number table by number, so its parser
  // errors carry no code at all (`Invalid header value char`: a control byte in a header): the
  // class name is what is left to go by.
  return (err as { name?: unknown } | null)?.name === 'HTTPParserError';
}

/** undici's own --timeout timers (headersTimeout, bodyTimeout): the watchdog's, raced. */
const UNDICI_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Transport errors that, after the head, mean the body was cut short. */
const CUT = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/**
 * The parser's word for a connection that ended inside a chunked body (undici 7's parser errors
 * carry no code: see isParserRefusal): after an RST on a `Connection: close` answer it was the
 * item's error, "Response does not match the HTTP/1.1 protocol (Invalid EOF state)", not retried.
 */
function endedInBody(err: unknown): boolean {
  return errorCode(err) === 'HPE_INVALID_EOF_STATE' || /\(Invalid EOF state\)$/.test((err as Error | null)?.message ?? '');
}

/** An unwanted body (an error page, a redirect) bigger than this costs the socket instead. */
const DISCARD_LIMIT = 256 << 10;

interface RequestSpec {
  path: string;
  headers: Record<string, string>;
}

/** Limits on one exchange beyond undici's own timers. */
interface Guard {
  /** Aborts the exchange when no final head or body byte came for --timeout. */
  watchdog?: Watchdog;
  /** Time left to the item (--max-time), in ms; the exchange fails when it runs out. */
  remainingMs?: number;
  /** The error for a spent --max-time. */
  onMaxTime?: () => Error;
  /** --max-speed / --max-host-speed: spends a chunk's bytes, returns the ms to wait (see bandwidth.ts). */
  spend?: (n: number) => number;
}

/** Resolves with the head once the body is fully consumed. */
export function exchange(client: Dispatcher, spec: RequestSpec, decide: Decide, guard?: Guard): Promise<Head> {
  return new Promise<Head>((resolve, reject) => {
    const handler = new ExchangeHandler(decide, resolve, reject, guard);
    try {
      client.dispatch({ method: 'GET', path: spec.path, headers: spec.headers }, handler);
    } catch (err) {
      handler.onError(err);
    }
  });
}

// undici's raw handler callbacks (onConnect/onHeaders/onData/onComplete/onError), not its
// controller API: that one wraps every request in two more objects and builds the header object
// above from all headers (undici 7's UnwrapHandler). Pausing is the same in both: a false return
// from onData (or onHeaders) stops the parser until `resume` is called.
class ExchangeHandler implements Dispatcher.DispatchHandler, Watched {
  private head: Head | undefined;
  private sink: BodySink | undefined;
  private decided: { err: unknown } | undefined;
  private discarded = 0;
  private settled = false;
  private abortFn: ((err?: Error) => void) | undefined;
  private resumeFn: (() => void) | undefined;
  private paused = false;
  private deadline: NodeJS.Timeout | undefined;
  private expired: Error | undefined;
  /** Paused by the sink (the disk is behind) or by a bandwidth cap (until `rateTimer` fires). */
  private sinkHeld = false;
  private rateTimer: NodeJS.Timeout | undefined;
  private readonly spend: ((n: number) => number) | undefined;
  /** Progress for the watchdog: the final head and every body chunk. */
  ticks = 0;
  /** Body bytes received, for the message of a body cut short. */
  private got = 0;
  seenTicks = 0;
  seenSince = -1;

  constructor(
    private readonly decide: Decide,
    private readonly resolve: (head: Head) => void,
    private readonly reject: (err: unknown) => void,
    private readonly guard: Guard | undefined,
  ) {
    this.spend = guard?.spend;
    if (guard) {
      guard.watchdog?.add(this);
      if (guard.remainingMs !== undefined && guard.onMaxTime) {
        const onMaxTime = guard.onMaxTime;
        this.deadline = setTimeout(() => this.expire(onMaxTime()), Math.max(0, guard.remainingMs));
      }
    }
  }

  /** Paused on our side: no time without data counts against the server (as with undici's bodyTimeout). */
  get holding(): boolean {
    return this.sinkHeld || this.rateTimer !== undefined;
  }

  private resumeIfFree(): void {
    if (this.settled || this.sinkHeld || this.rateTimer !== undefined || !this.paused) return;
    this.paused = false;
    this.resumeFn?.();
  }

  /** The sink's flow control (BodySink.attach): stops the exchange with `err`. */
  abort(err: Error): void {
    if (this.abortFn) this.abortFn(err);
    else this.onError(err);
  }

  /** The sink's flow control (BodySink.attach): the sink that held the body can take more. */
  resume(): void {
    this.sinkHeld = false;
    this.resumeIfFree();
  }

  /** Pauses reading for `ms` (a bandwidth cap in debt). */
  private wait(ms: number): void {
    if (this.rateTimer !== undefined) return;
    this.paused = true;
    this.rateTimer = setTimeout(() => {
      this.rateTimer = undefined;
      this.resumeIfFree();
    }, Math.ceil(ms));
  }

  /** Aborts the exchange with `err` (a watchdog or the item's deadline). */
  expire(err: Error): void {
    if (this.settled || this.expired) return;
    this.expired = err;
    this.abort(err);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: the real answer follows; not progress
    this.ticks++;
    this.resumeFn = resume;
    const head: Head = { status: statusCode, headers: pickHeaders(rawHeaders) };
    this.head = head;
    try {
      this.sink = this.decide(head);
    } catch (err) {
      this.decided = { err };
    }
    this.sink?.attach?.(this);
    return !this.paused;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return true;
    this.ticks++;
    this.got += chunk.length;
    if (this.spend) {
      const ms = this.spend(chunk.length);
      if (ms > 0) this.wait(ms);
    }
    const sink = this.sink;
    if (sink) {
      let more: boolean;
      try {
        more = sink.write(chunk);
      } catch (err) {
        // The sink refused (too big): stop here; the socket goes with it.
        this.sink = undefined;
        this.settle();
        this.after(sink.fail(err), err);
        this.abort(err instanceof Error ? err : new Error(String(err)));
        return false;
      }
      if (!more && !this.settled) {
        this.sinkHeld = true;
        this.paused = true;
      }
      return !this.paused;
    }
    this.discarded += chunk.length;
    if (this.discarded > DISCARD_LIMIT) {
      // Not worth reading away: drop the socket. The head has said what there was to say.
      this.settle();
      if (this.decided) this.reject(this.decided.err);
      else this.resolve(this.head!);
      this.abort(new Error('response body dropped'));
      return false;
    }
    return !this.paused;
  }

  onComplete(): void {
    if (this.settled) return;
    // A body that ends with the connection, ended by a reset: cut short, not complete (resets.ts).
    if (this.sink && inReset()) return this.onError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    this.settle();
    const head = this.head;
    const decided = this.decided;
    const finish = () => {
      if (decided) this.reject(decided.err);
      else if (head) this.resolve(head);
      else this.reject(new Error('response ended without a head'));
    };
    const sink = this.sink;
    if (!sink) return finish();
    let ended: void | Promise<void>;
    try {
      ended = sink.end();
    } catch (err) {
      this.after(sink.fail(err), err);
      return;
    }
    if (ended) ended.then(finish, (err: unknown) => this.after(sink.fail(err), err));
    else finish();
  }

  onError(err: unknown): void {
    if (this.settled) return;
    // A 204 has no body (RFC 9110 15.3.5), but undici holds it to a Content-Length the server
    // should not have sent and calls the answer cut short: it is complete (and the socket gone).
    if (this.head?.status === 204 && (err as { code?: string })?.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return this.onComplete();
    this.settle();
    // Our own abort comes back wrapped by undici at times: report it as we made it.
    if (this.expired) err = this.expired;
    else if (this.guard?.watchdog && UNDICI_TIMEOUTS.has(errorCode(err) ?? '')) err = this.guard.watchdog.stalled();
    else if (!this.head && isParserRefusal(err)) {
      // A head undici's parser refused (a header given twice, a control character in a value):
      // not a body cut short, though undici may call it a length mismatch.
      err = Object.assign(new Error('the server sent a malformed response head'), { code: 'BULKGET_BAD_HEAD', cause: err });
    } else if (this.sink && (CUT.has(errorCode(err) ?? '') || endedInBody(err))) {
      // The connection died mid-body: say how far it got, which is what a person wants to know.
      const total = this.head?.headers['content-length'];
      const of = typeof total === 'string' ? ` of ${total}` : '';
      const how = errorCode(err) === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || endedInBody(err) ? 'the connection ended' : describeError(err);
      err = Object.assign(new Error(`body cut short after ${this.got}${of} bytes: ${how}`), { code: 'BULKGET_CUT', cause: err });
    }
    // A decided error (the answer said 404) is what the item failed for; a transport error that
    // cut the error page short does not change that.
    const why = this.decided ? this.decided.err : err;
    if (this.sink) this.after(this.sink.fail(err), why);
    else this.reject(why);
  }

  /** Rejects with `err` once the sink's failure handling (maybe a promise) is done. */
  private after(failed: void | Promise<void>, err: unknown): void {
    if (failed) failed.then(() => this.reject(err), () => this.reject(err));
    else this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    if (this.rateTimer !== undefined) {
      clearTimeout(this.rateTimer);
      this.rateTimer = undefined;
    }
    if (this.guard) {
      this.guard.watchdog?.remove(this);
      if (this.deadline) clearTimeout(this.deadline);
    }
  }
}
