// One item, from its URL to a verified file under its final name (or a clear failure).
//
// The loop owns retries, redirects, resume and conditional requests itself instead of leaning
// on undici's RetryAgent/redirect interceptor, for three reasons: every hop and retry must go
// back through the fair pool (a waiting retry holds no slot; a redirect to another host needs a
// slot there), Retry-After must be honoured up to --max-retry-wait rather than a fixed cap, and
// timeouts must be retried too.

import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, writeSync, writev } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ConnectionPool, Lease } from '../pool/pool.js';
import type { EventBus, Item, ItemResult, Outcome, RunStats } from '../types.js';
import type { Placement, SafeDirs } from '../store/paths.js';
import { PathError, commitNew, commitPart, discardPart, fileExists, openPart, partSize, writeSmallPart } from '../store/paths.js';
import type { StateStore } from '../store/state.js';
import type { NameAllocator } from '../store/fingerprint.js';
import type { SmallFileWriter } from '../store/writer.js';
import { sanitizeDispositionName } from '../store/naming.js';
import { collectGarbage } from '../store/reclaim.js';
import { escapeControls, maskUrl } from '../text.js';
import { requestHeaders, withoutUserinfo, type CredentialPolicy } from './credentials.js';
import { maxTimeReached, type Watchdog } from './watchdog.js';
import { exchange, type BodySink, type Head, type ResponseHeaders } from './exchange.js';
import { RETRYABLE_STATUS, backoffMs, describeError, isDiskFull, isRetryableError, parseRetryAfter } from './retry.js';

export type IfExists = 'skip' | 'update' | 'overwrite';

export interface TransferOptions {
  retries: number;
  maxRetryWaitMs: number;
  /** Base of the exponential backoff (ms). */
  backoffBaseMs: number;
  maxRedirects: number;
  headers: Record<string, string>;
  ifExists: IfExists;
  maxFilesize: number; // 0 = none
  contentDisposition: boolean;
  /** --location-trusted and --netrc. */
  credentials: CredentialPolicy;
  /** --max-time: the longest one item may take, attempts and backoff waits included; 0 = none. */
  maxTimeMs: number;
}

export interface TransferContext {
  pool: ConnectionPool;
  dirs: SafeDirs;
  state: StateStore | undefined;
  names: NameAllocator;
  stats: RunStats;
  bus: EventBus;
  opts: TransferOptions;
  /** Aborted on SIGINT/SIGTERM: in-flight requests stop, .part files stay for resume. */
  signal: AbortSignal;
  /** Where small finished files are written (a helper thread). */
  writer: SmallFileWriter;
  /** Request target for a URL: origin-form, or absolute form through an http proxy. */
  requestPath: (url: URL) => string;
  /** Proxy-Authorization for a request through an http:// proxy that has credentials. */
  proxyAuth?: (url: URL) => string | undefined;
  /** Stops the whole run, as an interrupt does (the disk is full). */
  stop: (reason: string) => void;
  /** Aborts requests that make no progress for --timeout (1xx answers do not count). */
  watchdog?: Watchdog;
}

export class AbortedError extends Error {
  constructor() {
    super('interrupted');
  }
}

/** An attempt failed in a way another attempt may cure. */
class RetryableFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly waitMs?: number,
    /** This answer paused the whole endpoint (429/503 with Retry-After). */
    readonly paused = false,
  ) {
    super(message);
  }
}

/** The item is finished with this outcome; no more attempts. */
class Final extends Error {
  constructor(
    readonly outcome: Outcome,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The disk is full: this item fails and the run stops (no later item could be written). */
class DiskFull extends Error {
  constructor(why: unknown) {
    super(describeError(why));
  }
}

/** The resume state did not hold (validator changed, range ignored): start clean, at once. */
class Restart extends Error {}

const SMALL_BODY = 1 << 20; // bodies at most this big need no resume record
const GATHER_LIMIT = 256 << 10; // bodies at most this big are gathered and written in one go
// Bytes of one body waiting behind its pending write before the body is paused: 512 KiB for a
// few big files, down to 128 KiB when many stream at once, so that all of them together hold at
// most ~2 MiB (16 x 1 MiB files peaked at 96-100 MiB RSS with 512 KiB each, 81 with 128 KiB).
const BATCH_MAX = 512 << 10;
const BATCH_MIN = 128 << 10;
const BATCHES_TOTAL = 2 << 20;
let streamingBodies = 0;
function batchLimit(): number {
  return Math.min(BATCH_MAX, Math.max(BATCH_MIN, Math.floor(BATCHES_TOTAL / Math.max(1, streamingBodies))));
}
const RECLAIM_EVERY = 4 << 20; // body bytes written (all transfers) between minor GCs

interface Resume {
  offset: number;
  validator: string;
  /** The file's size as recorded when the .part was begun, when it was known. */
  size?: number;
}

export async function transfer(item: Item, ctx: TransferContext): Promise<ItemResult> {
  const result: ItemResult = { item, outcome: 'failed', attempts: 0, bytes: 0 };
  try {
    const outcome = await run(item, ctx, result);
    result.outcome = outcome;
  } catch (err) {
    if (err instanceof DiskFull) {
      ctx.stop(err.message);
      result.outcome = 'failed';
      result.error = err.message;
      return result;
    }
    if (err instanceof AbortedError || ctx.signal.aborted) throw new AbortedError();
    // Messages can carry a server's words (a Location): never raw control characters.
    if (err instanceof Final) {
      result.outcome = err.outcome;
      result.error = escapeControls(err.message);
      if (err.status !== undefined) result.status = err.status;
    } else {
      result.outcome = 'failed';
      result.error = escapeControls(describeError(err));
    }
  }
  return result;
}

async function run(item: Item, ctx: TransferContext, result: ItemResult): Promise<Outcome> {
  const { opts, stats } = ctx;
  let place: Placement;
  try {
    place = await ctx.dirs.place(item.out);
  } catch (err) {
    if (isDiskFull(err)) throw new DiskFull(err);
    throw new Final('failed', describeError(err));
  }
  const { abs, part, fresh } = place;

  const conditional: Record<string, string> = {};
  // In a folder that held nothing when the run began (the usual bulk download), neither the
  // file nor its .part can exist yet: two lstat calls per file saved (~10 us each here).
  if (!fresh && fileExists(abs)) {
    if (opts.ifExists === 'skip') return 'skipped';
    if (opts.ifExists === 'update') {
      const rec = await ctx.state?.lookup(item.out);
      if (rec && rec.k === 'done' && rec.e) conditional['if-none-match'] = rec.e;
      if (rec && rec.k === 'done' && rec.m) conditional['if-modified-since'] = rec.m;
      if (!conditional['if-none-match'] && !conditional['if-modified-since']) {
        // No record (a file put there by hand or by another tool): its mtime is the best
        // guess, as wget -N does.
        const st = await stat(abs);
        conditional['if-modified-since'] = st.mtime.toUTCString();
      }
    }
  }

  let resume = place.partFresh ? undefined : await resumeState(item, part, ctx);
  let url = item.url;
  let hops = 0;
  let retry = 0;
  let spent = 0; // ms of this item's --max-time used so far
  const visited = new Set<string>([url.href]);

  for (;;) {
    if (ctx.signal.aborted) throw new AbortedError();
    // Credentials only where they belong: a redirect to another origin drops them.
    const headers: Record<string, string> = { ...requestHeaders(opts.headers, item.url, url, opts.credentials), ...conditional };
    if (resume) {
      headers['range'] = `bytes=${resume.offset}-`;
      headers['if-range'] = resume.validator;
    }
    try {
      // An item with a checksum that continues a .part needs the part's bytes in its hash:
      // read before a slot is taken, so no socket waits on the disk.
      const partHash = item.sha256 && resume ? await hashPart(part) : undefined;
      const lease = await acquire(ctx, url.origin, hops > 0 || retry > 0);
      result.attempts++;
      // --max-time counts attempts and backoff waits, never the wait for a slot (SPEC).
      let next: AttemptResult;
      if (opts.maxTimeMs > 0) {
        const remainingMs = opts.maxTimeMs - spent;
        if (remainingMs <= 0) {
          lease.release();
          throw new Final('failed', maxTimeReached(opts.maxTimeMs).message);
        }
        const started = performance.now();
        try {
          next = await attempt(item, ctx, lease, url, headers, place, resume, partHash, result, remainingMs);
        } finally {
          spent += performance.now() - started;
        }
      } else {
        next = await attempt(item, ctx, lease, url, headers, place, resume, partHash, result);
      }
      if (next.kind === 'done') return next.outcome;
      // A redirect: check it, then go round with the new URL (same attempt budget).
      hops++;
      if (hops > opts.maxRedirects) throw new Final('failed', `too many redirects (more than ${opts.maxRedirects})`, next.status);
      let target: URL;
      try {
        target = new URL(next.location, url);
      } catch {
        throw new Final('failed', `redirect to an invalid URL: ${clip(next.location)}`, next.status);
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw new Final('failed', `redirect to a non-http(s) URL refused: ${target.protocol}`, next.status);
      }
      target.hash = '';
      if (visited.has(target.href)) throw new Final('failed', `redirect loop at ${maskUrl(target.href)}`, next.status);
      visited.add(target.href);
      url = target;
    } catch (err) {
      if (err instanceof Final || err instanceof AbortedError) throw err;
      if (isDiskFull(err)) throw new DiskFull(err);
      if (ctx.signal.aborted) throw new AbortedError();
      if (err instanceof Restart) {
        discardPart(part);
        resume = undefined;
        continue;
      }
      const retryable = err instanceof RetryableFailure || isRetryableError(err);
      const status = err instanceof RetryableFailure ? err.status : undefined;
      const why = describeError(err);
      if (status !== undefined) result.status = status;
      if (!retryable) throw new Final('failed', why, status);
      if (retry >= opts.retries) {
        throw new Final('failed', opts.retries > 0 ? `${why} (after ${retry + 1} attempts)` : why, status);
      }
      let wait = err instanceof RetryableFailure && err.waitMs !== undefined
        ? err.waitMs
        : backoffMs(retry, opts.backoffBaseMs, opts.maxRetryWaitMs);
      wait = Math.max(0, wait);
      if (opts.maxTimeMs > 0 && spent + wait >= opts.maxTimeMs) {
        throw new Final('failed', `${why}; ${maxTimeReached(opts.maxTimeMs).message} before the next attempt`, status);
      }
      spent += wait;
      ctx.stats.retries++;
      ctx.bus.emit({ type: 'retry', item, attempt: retry + 1, delayMs: wait, reason: why });
      retry++;
      await sleep(wait, ctx.signal);
      // A part written by the failed attempt is continued if we know its validator.
      resume = await resumeState(item, part, ctx);
    }
  }
}

type AttemptResult = { kind: 'done'; outcome: Outcome } | { kind: 'redirect'; location: string; status: number };

async function attempt(
  item: Item,
  ctx: TransferContext,
  lease: Lease,
  url: URL,
  headers: Record<string, string>,
  place: Placement,
  resume: Resume | undefined,
  partHash: Hash | undefined,
  result: ItemResult,
  remainingMs?: number,
): Promise<AttemptResult> {
  const { stats, opts } = ctx;
  const { abs, part } = place;
  stats.active++;
  let body: BodyFile | undefined;
  let redirect: string | undefined;
  let unchanged = false;
  let etag: string | undefined;
  let lastModified: string | undefined;
  let disposition: string | undefined;

  // Runs inside the parser the moment the head is in: every answer but a wanted body is an
  // outcome or an error here, and a wanted body gets its sink before its first byte.
  const decide = (head: Head): BodySink | undefined => {
    const status = head.status;
    const h = head.headers;
    result.status = status;

    if (status >= 300 && status < 400 && status !== 304) {
      const location = header(h, 'location');
      if (!location) throw new Final('failed', `HTTP ${status} without a Location header`, status);
      redirect = location;
      return undefined;
    }
    if (status === 304) {
      // Only a conditional request can be answered "not modified": without one there may be no
      // file at all, and calling it unchanged would report a download that never happened.
      if (headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined) {
        throw new Final('failed', 'HTTP 304 (not modified) to a request that had no condition', status);
      }
      unchanged = true;
      return undefined;
    }
    if (RETRYABLE_STATUS.has(status)) {
      const after = parseRetryAfter(header(h, 'retry-after'));
      if (after !== undefined) {
        if (after > opts.maxRetryWaitMs) {
          throw new Final(
            'failed',
            `HTTP ${status}: server asks to retry after ${Math.ceil(after / 1000)}s, more than --max-retry-wait ${Math.ceil(opts.maxRetryWaitMs / 1000)}s`,
            status,
          );
        }
        // The whole endpoint is asked to slow down, not just this item. Paused before the
        // lease goes back, so the slot is not handed to the next request of this endpoint.
        if (status === 429 || status === 503) {
          ctx.pool.pause(url.origin, Date.now() + after);
          throw new RetryableFailure(`HTTP ${status}`, status, after, true);
        }
      }
      throw new RetryableFailure(`HTTP ${status}`, status, after);
    }
    if (status === 404 || status === 410) throw new Final('notFound', `HTTP ${status}`, status);
    if (status === 416 && resume) throw new Restart();
    if (status !== 200 && status !== 206) throw new Final('failed', `HTTP ${status}`, status);

    // 200 or 206: the body goes to NAME.part.
    let offset = 0;
    const lengthHeader = header(h, 'content-length');
    const bodyLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : -1;
    let expectedTotal = bodyLength;
    if (status === 206) {
      // We asked for the whole file: restarting would ask the same again, forever.
      if (!resume) throw new Final('failed', 'server sent a partial answer (206) to a request for the whole file', status);
      const total = resumedTotal(header(h, 'content-range'), resume, bodyLength);
      // Not where our .part ends, not up to the end of the file, or not the size recorded for
      // it: appending would build a wrong file. Start clean.
      if (total === undefined) throw new Restart();
      offset = resume.offset;
      expectedTotal = total;
    }
    if (opts.maxFilesize > 0 && expectedTotal > opts.maxFilesize) {
      discardPart(part);
      throw new Final('failed', `file is larger than --max-filesize (${expectedTotal} bytes announced)`, status);
    }
    if (item.size !== undefined && expectedTotal >= 0 && expectedTotal !== item.size) {
      // A .part of this item (from an earlier run) is not worth keeping either.
      discardPart(part);
      throw new Final('failed', `size mismatch: server announces ${expectedTotal} bytes, expected ${item.size}`, status);
    }

    disposition = opts.contentDisposition ? header(h, 'content-disposition') : undefined;
    etag = header(h, 'etag');
    lastModified = header(h, 'last-modified');
    if (ctx.state && (bodyLength < 0 || bodyLength > SMALL_BODY)) {
      // Big or unknown size: record the validator before the first byte lands, so a kill -9
      // mid-body leaves a .part that the next run can continue with If-Range.
      ctx.state.recordPart(item.out, recordedUrl(item), { etag, lastModified, size: expectedTotal >= 0 ? expectedTotal : undefined });
    }
    const hash = !item.sha256 ? undefined : offset > 0 && partHash ? partHash : createHash('sha256');
    // Small and whole, as most files of a bulk list are: gathered and written in one go after the
    // last byte, so a body cut short leaves no .part behind. Anything else is written as it comes.
    const gather = offset === 0 && bodyLength >= 0 && bodyLength <= GATHER_LIMIT;
    body = new BodyFile(part, offset, expectedTotal, gather, hash, ctx.stats, result, opts.maxFilesize);
    // A small body cut short is worth keeping when a validator can guard its continuation: the
    // retry then asks only for the rest (Range + If-Range), as it does for a big one.
    const strong = etag !== undefined && !etag.startsWith('W/');
    if (gather && ctx.state && (strong || lastModified !== undefined)) {
      const state = ctx.state;
      const v = { etag, lastModified, size: expectedTotal };
      body.keepCut = () => state.recordPart(item.out, recordedUrl(item), v);
    }
    if (!gather) {
      try {
        body.open();
      } catch (err) {
        // A .part that is not ours to append to (hard-linked, not a regular file): the clean
        // start replaces it with a new file of our own instead of failing the item.
        if (offset > 0 && err instanceof PathError) throw new Restart();
        throw err;
      }
    }
    return body;
  };

  try {
    const proxyAuth = ctx.proxyAuth?.(url);
    const head = await exchange(
      lease.client,
      {
        path: ctx.requestPath(url),
        headers: proxyAuth ? { ...headers, host: url.host, 'proxy-authorization': proxyAuth } : { ...headers, host: url.host },
      },
      decide,
      {
        watchdog: ctx.watchdog,
        remainingMs,
        onMaxTime: remainingMs !== undefined ? () => maxTimeReached(opts.maxTimeMs) : undefined,
      },
    );
    // The socket is free for the next item while this one is checked and moved into place.
    lease.release();
    if (redirect !== undefined) return { kind: 'redirect', location: redirect, status: head.status };
    if (unchanged) return { kind: 'done', outcome: 'unchanged' };
    const status = head.status;
    const file = body!;
    const written = file.written;
    const expectedTotal = file.expectedTotal;

    if (expectedTotal >= 0 && written !== expectedTotal) {
      const err = new Error(`body cut short: got ${written} of ${expectedTotal} bytes`) as Error & { code: string };
      err.code = 'BULKGET_SHORT_BODY';
      throw err;
    }
    if (item.size !== undefined && written !== item.size) {
      discardPart(part);
      throw new Final('failed', `size mismatch: got ${written} bytes, expected ${item.size}`, status);
    }
    if (file.hash) {
      const got = file.hash.digest('hex');
      if (got !== item.sha256) {
        discardPart(part);
        throw new Final('failed', `sha256 mismatch: got ${got}, expected ${item.sha256}`, status);
      }
    }

    let finalRel = item.out;
    const gathered = file.takeGathered();
    const cdName = disposition ? sanitizeDispositionName(disposition) : null;
    // `.bulkget` is a safe name but holds our own records: the URL's name is used instead.
    if (cdName && cdName.toLowerCase() !== '.bulkget') {
      if (gathered) writeSmallPart(part, gathered);
      finalRel = await commitDisposition(item, ctx, part, cdName);
    } else if (gathered) {
      await ctx.writer.put(part, abs, gathered, written);
      reclaimAfter(written);
    } else {
      commitPart(part, abs);
    }
    stats.bytesDone += written;
    ctx.state?.recordDone(finalRel, recordedUrl(item), { etag, lastModified, size: written });
    return { kind: 'done', outcome: 'downloaded' };
  } finally {
    stats.active--;
    lease.release();
  }
}

/**
 * A kept body on its way to NAME.part. Small whole bodies are gathered and handed to the file
 * writer at the end. Anything else is written as it comes, with positional writev calls on the
 * thread pool: chunks that arrive while one write is under way are gathered into the next, so
 * there is one round trip per batch, not per 64 KiB chunk, and the copy into the file runs on
 * another core while this one parses the next chunks (one 512 MiB file: 1.3 s written inline
 * with writeSync, 0.7 s this way). Past a few hundred KiB waiting (see batchLimit) the response is
 * paused: memory stays bounded whatever the file's size. The bytes already received of a body
 * that dies in the middle are written before the attempt fails, so the retry's Range starts right
 * after them.
 */
class BodyFile implements BodySink {
  private fd = -1;
  private chunks: Buffer[] | undefined;
  written: number;
  // Streaming writes.
  private position: number;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private writing = false;
  private writeError: Error | undefined;
  private flow: { resume: () => void; abort: (err: Error) => void } | undefined;
  private paused = false;
  private idle: (() => void) | undefined;
  /** Records a gathered body that was cut short as a partial file to resume (see decide). */
  keepCut: (() => void) | undefined;

  constructor(
    private readonly part: string,
    private readonly offset: number,
    /** The whole file's length as the answer announced it, or -1. */
    readonly expectedTotal: number,
    gather: boolean,
    readonly hash: Hash | undefined,
    private readonly stats: RunStats,
    private readonly result: ItemResult,
    private readonly maxFilesize: number,
  ) {
    this.written = offset;
    this.position = offset;
    if (gather) this.chunks = [];
  }

  open(): void {
    this.fd = openPart(this.part, this.offset > 0 ? 'append' : 'truncate');
    streamingBodies++;
  }

  attach(flow: { resume: () => void; abort: (err: Error) => void }): void {
    this.flow = flow;
  }

  write(chunk: Buffer): boolean {
    const n = chunk.length;
    this.written += n;
    this.stats.bytes += n;
    this.result.bytes += n;
    if (this.maxFilesize > 0 && this.written > this.maxFilesize) {
      throw new Final('failed', `file grew past --max-filesize (${this.maxFilesize} bytes)`);
    }
    this.hash?.update(chunk);
    if (this.chunks) {
      // A view on the socket's read buffer, kept only until the body ends (a few KiB).
      this.chunks.push(chunk);
      return true;
    }
    this.batch.push(chunk);
    this.batchBytes += n;
    if (!this.writing) this.kick();
    this.paused = this.batchBytes >= batchLimit();
    return !this.paused;
  }

  end(): void | Promise<void> {
    if (this.chunks) return;
    return this.drained().then(() => {
      this.close();
      if (this.writeError) throw this.writeError;
    });
  }

  fail(err: unknown): void | Promise<void> {
    const chunks = this.chunks;
    this.chunks = undefined;
    // Past --max-filesize the file is not kept, not even as a partial to resume.
    const discard = err instanceof Final;
    if (chunks && chunks.length > 0 && this.keepCut && !discard) {
      try {
        writeSmallPart(this.part, chunks);
        this.keepCut();
      } catch {
        // Only a head start is lost: the retry fetches the whole body.
        discardPart(this.part);
      }
      return;
    }
    if (this.fd < 0) {
      if (discard) discardPart(this.part);
      return;
    }
    return this.drained().then(() => {
      this.close();
      if (discard) discardPart(this.part);
    });
  }

  /** A small body gathered whole (nothing on disk yet), handed over once. */
  takeGathered(): Buffer[] | undefined {
    const chunks = this.chunks;
    this.chunks = undefined;
    return chunks;
  }

  private kick(): void {
    if (this.writing || this.batch.length === 0 || this.fd < 0) return;
    if (this.writeError) {
      this.batch = [];
      this.batchBytes = 0;
      return;
    }
    const bufs = this.batch;
    const bytes = this.batchBytes;
    const at = this.position;
    this.batch = [];
    this.batchBytes = 0;
    this.position += bytes;
    this.writing = true;
    writev(this.fd, bufs, at, (err, done) => {
      this.writing = false;
      if (!err && done < bytes) {
        // A short write (disk filling up): the rest in place, or the error that says why.
        try {
          writeRest(this.fd, bufs, done, at + done);
        } catch (e) {
          err = e as NodeJS.ErrnoException;
        }
      }
      if (err) {
        this.writeError = err;
        this.flow?.abort(err);
      }
      reclaimAfter(bytes);
      if (this.batch.length > 0) this.kick();
      // The waiting batch has just gone to the disk: a paused body may come again.
      if (this.paused && this.batchBytes < batchLimit()) {
        this.paused = false;
        this.flow?.resume();
      }
      if (!this.writing) this.idle?.();
    });
  }

  /** Resolves once every byte received so far is written (or failed to be). */
  private drained(): Promise<void> {
    this.kick();
    if (!this.writing && this.batch.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = () => {
        if (this.writing || this.batch.length > 0) return;
        this.idle = undefined;
        resolve();
      };
    });
  }

  private close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      streamingBodies--;
      closeSync(fd);
    }
  }
}

/** Writes what a short writev left, from byte `skip` of the batch on, at `position`. */
function writeRest(fd: number, bufs: Buffer[], skip: number, position: number): void {
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let off = skip;
    skip = 0;
    while (off < b.length) {
      const n = writeSync(fd, b, off, b.length - off, position);
      off += n;
      position += n;
    }
  }
}

// Written body chunks are garbage at once, but V8 frees a Buffer's memory only when it collects
// the Buffer's JS object, which is tiny: the young generation fills only after gigabytes of body,
// and until then every chunk stays resident (a 50 MiB download peaked at 140 MiB RSS). Counted
// across all transfers, so 16 parallel 1 MiB files are covered as well as one big file.
let reclaimIn = RECLAIM_EVERY;
function reclaimAfter(bytes: number): void {
  if ((reclaimIn -= bytes) <= 0) {
    reclaimIn = RECLAIM_EVERY;
    collectGarbage('minor');
  }
}

/** sha256 of a leftover .part, for an item with a checksum whose download continues it. */
async function hashPart(part: string): Promise<Hash> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(part) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash;
}

/** What a leftover .part allows: continue with Range + If-Range, or nothing. */
async function resumeState(item: Item, part: string, ctx: TransferContext): Promise<Resume | undefined> {
  const size = partSize(part);
  if (size <= 0) return undefined;
  const rec = await ctx.state?.lookup(item.out);
  if (!rec || rec.k !== 'part' || rec.u !== recordedUrl(item)) return undefined;
  // If-Range needs a strong validator: a weak ETag cannot guard a byte range.
  const validator = rec.e && !rec.e.startsWith('W/') ? rec.e : rec.m;
  if (!validator) return undefined;
  if (rec.s !== undefined && size >= rec.s) return undefined;
  return { offset: size, validator, size: rec.s };
}

/**
 * The file's total size when a 206 continues our .part exactly: it starts where the .part ends,
 * runs to the end of the file, agrees with Content-Length, and names the size recorded when the
 * .part was begun. Undefined otherwise.
 */
function resumedTotal(contentRange: string | undefined, resume: Resume, bodyLength: number): number | undefined {
  const m = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim()) : null;
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first !== resume.offset || last < first) return undefined;
  if (bodyLength >= 0 && bodyLength !== last - first + 1) return undefined;
  if (m[3] === '*') {
    // Total unknown to the server itself: only the recorded size can say the range is the rest.
    return resume.size !== undefined && last + 1 === resume.size ? resume.size : undefined;
  }
  const total = Number(m[3]);
  if (last + 1 !== total) return undefined;
  if (resume.size !== undefined && total !== resume.size) return undefined;
  return total;
}

/**
 * Puts a finished partial file under the server's name (Content-Disposition). That name is known
 * only now, so its collision suffix comes in completion order; a name another item holds, or a
 * file that was there before (the user's own `important.txt`), is never replaced: the next free
 * suffix is taken instead, as wget does. Returns the path used, relative to DEST.
 */
async function commitDisposition(item: Item, ctx: TransferContext, part: string, cdName: string): Promise<string> {
  const dir = item.out.includes('/') ? item.out.slice(0, item.out.lastIndexOf('/') + 1) : '';
  const wanted = dir + cdName;
  // A key of this item's own: two items of one URL must not share a claim.
  const key = `${item.url.href}#cd${item.seq}`;
  for (let n = 0; ; n++) {
    // assign() hands out the name, or the next suffix, that no item holds; each call claims one.
    // One that is taken on disk (a file from before the run) is passed over: link() never
    // replaces a file.
    const rel = ctx.names.assign(wanted, `${key}#${n}`);
    if (rel === null) continue;
    const abs = await ctx.dirs.ensureParent(rel);
    if (commitNew(part, abs)) return rel;
  }
}

/**
 * A pool slot. Stopping the run destroys the pool (run.ts), which rejects every waiter and
 * aborts every request at once, so a waiter never sits out an endpoint pause after Ctrl-C; that
 * replaces a listener on the shutdown signal per request, which cost measurable CPU per file.
 */
function acquire(ctx: TransferContext, origin: string, front: boolean): Promise<Lease> {
  if (ctx.signal.aborted) return Promise.reject(new AbortedError());
  return ctx.pool.acquire(origin, front);
}

/** The item's URL as DEST/.bulkget records it: never with a user or password. */
function recordedUrl(item: Item): string {
  return withoutUserinfo(item.url);
}

/** A server's text in a message: one line's worth at most. */
function clip(s: string): string {
  return s.length > 200 ? s.slice(0, 200) + '...' : s;
}

function header(h: ResponseHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortedError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
