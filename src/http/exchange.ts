// One HTTP request and its response, on a raw undici dispatch handler.
//
// `client.request()` wraps every response in a Readable stream, a promise and an async resource;
// per small file that machinery cost more CPU than the bytes (profile of 10,000 x 4 KiB files).
// Here the caller decides what to do with the body the moment the head is parsed, and every body
// chunk goes straight from the parser to that decision: one promise per request, no stream.

import type { Dispatcher } from 'undici';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface Head {
  status: number;
  headers: ResponseHeaders;
}

/** Where a response body goes. Every method runs synchronously inside undici's parser. */
export interface BodySink {
  /** One chunk, a view on the socket's read buffer: copy it or use it before returning. */
  write(chunk: Buffer): void;
  /** The body ended complete. */
  end(): void;
  /** The exchange failed after this sink was chosen (transport error, abort, a throw above). */
  fail(err: unknown): void;
}

/**
 * Called once with the final head (not for 1xx). Returns the sink for the body, or undefined to
 * read the body away. A throw makes the exchange reject with that error once the body is read away,
 * so the socket stays reusable.
 */
export type Decide = (head: Head) => BodySink | undefined;

/** An unwanted body (an error page, a redirect) bigger than this costs the socket instead. */
const DISCARD_LIMIT = 256 << 10;

export interface RequestSpec {
  path: string;
  headers: Record<string, string>;
}

/** Resolves with the head once the body is fully consumed. */
export function exchange(client: Dispatcher, spec: RequestSpec, decide: Decide): Promise<Head> {
  return new Promise<Head>((resolve, reject) => {
    const handler = new ExchangeHandler(decide, resolve, reject);
    try {
      client.dispatch({ method: 'GET', path: spec.path, headers: spec.headers }, handler);
    } catch (err) {
      handler.onResponseError(undefined, err);
    }
  });
}

class ExchangeHandler implements Dispatcher.DispatchHandler {
  private head: Head | undefined;
  private sink: BodySink | undefined;
  private decided: { err: unknown } | undefined;
  private discarded = 0;
  private settled = false;

  constructor(
    private readonly decide: Decide,
    private readonly resolve: (head: Head) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  // undici tells the handler APIs apart by this method: present, the controller-based one is used.
  onRequestStart(): void {}

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx: the real answer follows
    const head: Head = { status: statusCode, headers };
    this.head = head;
    try {
      this.sink = this.decide(head);
    } catch (err) {
      this.decided = { err };
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    const sink = this.sink;
    if (sink) {
      try {
        sink.write(chunk);
      } catch (err) {
        // The sink refused (too big, disk full): stop here; the socket goes with it.
        this.sink = undefined;
        this.settle();
        sink.fail(err);
        this.reject(err);
        controller.abort(err instanceof Error ? err : new Error(String(err)));
      }
      return;
    }
    this.discarded += chunk.length;
    if (this.discarded > DISCARD_LIMIT) {
      // Not worth reading away: drop the socket. The decided error still reports the answer.
      const why = this.decided ? this.decided.err : new Error('unwanted response body too large');
      this.settle();
      this.reject(why);
      controller.abort(new Error('response body dropped'));
    }
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settle();
    if (this.sink) {
      try {
        this.sink.end();
      } catch (err) {
        this.sink.fail(err);
        this.reject(err);
        return;
      }
    }
    if (this.decided) this.reject(this.decided.err);
    else if (this.head) this.resolve(this.head);
    else this.reject(new Error('response ended without a head'));
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: unknown): void {
    if (this.settled) return;
    this.settle();
    this.sink?.fail(err);
    // A decided error (the answer said 404) is what the item failed for; a transport error that
    // cut the error page short does not change that.
    this.reject(this.decided ? this.decided.err : err);
  }

  private settle(): void {
    this.settled = true;
  }
}
