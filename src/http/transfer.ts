// One item, from its URL to a verified file under its final name (or a clear failure).
//
// The loop owns retries, redirects, resume and conditional requests itself instead of leaning
// on undici's RetryAgent/redirect interceptor, for three reasons: every hop and retry must go
// back through the fair pool (a waiting retry holds no slot; a redirect to another host needs a
// slot there), Retry-After must be honoured up to --max-retry-wait rather than a fixed cap, and
// timeouts must be retried too.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { stat } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import type { ConnectionPool, Lease } from '../pool/pool.js';
import type { EventBus, Item, ItemResult, Outcome, RunStats } from '../types.js';
import type { SafeDirs } from '../store/paths.js';
import { PathError, commitPart, discardPart, fileExists, openPart, partSize, writeSmallPart } from '../store/paths.js';
import type { StateStore } from '../store/state.js';
import type { NameAllocator } from '../store/fingerprint.js';
import { sanitizeDispositionName } from '../store/naming.js';
import { collectGarbage } from '../store/reclaim.js';
import { RETRYABLE_STATUS, backoffMs, describeError, isRetryableError, parseRetryAfter } from './retry.js';

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
  /** Request target for a URL: origin-form, or absolute form through an http proxy. */
  requestPath: (url: URL) => string;
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

/** The resume state did not hold (validator changed, range ignored): start clean, at once. */
class Restart extends Error {}

const SMALL_BODY = 1 << 20; // bodies at most this big need no resume record
const GATHER_LIMIT = 256 << 10; // bodies at most this big are gathered and written in one go
const BATCH_LIMIT = 512 << 10; // bytes gathered behind a pending write before the body is paused
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
    if (err instanceof AbortedError || ctx.signal.aborted) throw new AbortedError();
    if (err instanceof Final) {
      result.outcome = err.outcome;
      result.error = err.message;
      if (err.status !== undefined) result.status = err.status;
    } else {
      result.outcome = 'failed';
      result.error = describeError(err);
    }
  }
  return result;
}

async function run(item: Item, ctx: TransferContext, result: ItemResult): Promise<Outcome> {
  const { opts, stats } = ctx;
  let abs: string;
  try {
    abs = await ctx.dirs.ensureParent(item.out);
  } catch (err) {
    throw new Final('failed', describeError(err));
  }

  const conditional: Record<string, string> = {};
  if (await fileExists(abs)) {
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

  let resume = await resumeState(item, abs, ctx);
  let url = item.url;
  let hops = 0;
  let retry = 0;
  const visited = new Set<string>([url.href]);

  for (;;) {
    if (ctx.signal.aborted) throw new AbortedError();
    const headers: Record<string, string> = { ...opts.headers, ...conditional };
    if (resume) {
      headers['range'] = `bytes=${resume.offset}-`;
      headers['if-range'] = resume.validator;
    }
    try {
      const lease = await acquire(ctx, url.origin, hops > 0 || retry > 0);
      result.attempts++;
      const next = await attempt(item, ctx, lease, url, headers, abs, resume, result);
      if (next.kind === 'done') return next.outcome;
      // A redirect: check it, then go round with the new URL (same attempt budget).
      hops++;
      if (hops > opts.maxRedirects) throw new Final('failed', `too many redirects (more than ${opts.maxRedirects})`, next.status);
      let target: URL;
      try {
        target = new URL(next.location, url);
      } catch {
        throw new Final('failed', `redirect to an invalid URL: ${next.location}`, next.status);
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw new Final('failed', `redirect to a non-http(s) URL refused: ${target.protocol}`, next.status);
      }
      target.hash = '';
      if (visited.has(target.href)) throw new Final('failed', `redirect loop at ${target.href}`, next.status);
      visited.add(target.href);
      url = target;
    } catch (err) {
      if (err instanceof Final || err instanceof AbortedError) throw err;
      if (ctx.signal.aborted) throw new AbortedError();
      if (err instanceof Restart) {
        await discardPart(abs);
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
      ctx.stats.retries++;
      ctx.bus.emit({ type: 'retry', item, attempt: retry + 1, delayMs: wait, reason: why });
      retry++;
      await sleep(wait, ctx.signal);
      // A part written by the failed attempt is continued if we know its validator.
      resume = await resumeState(item, abs, ctx);
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
  abs: string,
  resume: Resume | undefined,
  result: ItemResult,
): Promise<AttemptResult> {
  const { stats, opts } = ctx;
  stats.active++;
  let res: Dispatcher.ResponseData | undefined;
  try {
    res = await lease.client.request({
      method: 'GET',
      path: ctx.requestPath(url),
      headers: { ...headers, host: url.host },
    });
    const status = res.statusCode;
    result.status = status;

    if (status >= 300 && status < 400 && status !== 304) {
      const location = header(res.headers, 'location');
      await drain(res);
      if (!location) throw new Final('failed', `HTTP ${status} without a Location header`, status);
      return { kind: 'redirect', location, status };
    }
    if (status === 304) {
      await drain(res);
      // Only a conditional request can be answered "not modified": without one there may be no
      // file at all, and calling it unchanged would report a download that never happened.
      if (headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined) {
        throw new Final('failed', 'HTTP 304 (not modified) to a request that had no condition', status);
      }
      return { kind: 'done', outcome: 'unchanged' };
    }
    if (RETRYABLE_STATUS.has(status)) {
      await drain(res);
      const after = parseRetryAfter(header(res.headers, 'retry-after'));
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
    if (status === 404 || status === 410) {
      await drain(res);
      throw new Final('notFound', `HTTP ${status}`, status);
    }
    if (status === 416 && resume) {
      await drain(res);
      throw new Restart();
    }
    if (status !== 200 && status !== 206) {
      await drain(res);
      throw new Final('failed', `HTTP ${status}`, status);
    }

    // 200 or 206: the body goes to NAME.part.
    let offset = 0;
    const lengthHeader = header(res.headers, 'content-length');
    const bodyLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : -1;
    let expectedTotal = bodyLength >= 0 ? bodyLength : -1;
    if (status === 206) {
      if (!resume) {
        // We asked for the whole file. Restarting would ask the same again, forever.
        await drain(res);
        throw new Final('failed', 'server sent a partial answer (206) to a request for the whole file', status);
      }
      const total = resumedTotal(header(res.headers, 'content-range'), resume, bodyLength);
      if (total === undefined) {
        // Not where our .part ends, not up to the end of the file, or not the size recorded
        // for it: appending would build a wrong file. Start clean.
        await drain(res);
        throw new Restart();
      }
      offset = resume.offset;
      expectedTotal = total;
    }
    if (opts.maxFilesize > 0 && expectedTotal > opts.maxFilesize) {
      await drain(res);
      await discardPart(abs);
      throw new Final('failed', `file is larger than --max-filesize (${expectedTotal} bytes announced)`, status);
    }
    if (item.size !== undefined && expectedTotal >= 0 && expectedTotal !== item.size) {
      await drain(res);
      // A .part of this item (from an earlier run) is not worth keeping either.
      await discardPart(abs);
      throw new Final('failed', `size mismatch: server announces ${expectedTotal} bytes, expected ${item.size}`, status);
    }

    const disposition = opts.contentDisposition ? header(res.headers, 'content-disposition') : undefined;
    const etag = header(res.headers, 'etag');
    const lastModified = header(res.headers, 'last-modified');
    if (ctx.state && (bodyLength < 0 || bodyLength > SMALL_BODY)) {
      // Big or unknown size: record the validator before the first byte lands, so a kill -9
      // mid-body leaves a .part that the next run can continue with If-Range.
      ctx.state.recordPart(item.out, item.url.href, { etag, lastModified, size: expectedTotal >= 0 ? expectedTotal : undefined });
    }

    const hash = item.sha256 ? createHash('sha256') : undefined;
    let written = offset;
    if (offset === 0 && bodyLength >= 0 && bodyLength <= GATHER_LIMIT) {
      // Small and whole, as most files of a bulk list are: gather the body, then one synchronous
      // open/writev/close. Per file, the async open/write/close round trips through the thread
      // pool cost more CPU than a few KiB of bytes (measured on 10,000 x 4 KiB). Nothing touches
      // the disk before the last byte is in, so a body cut short leaves no .part behind.
      const chunks: Buffer[] = [];
      written = await readSmallBody(res, chunks, ctx, result, opts.maxFilesize);
      res = undefined; // consumed
      lease.release();
      if (written === bodyLength) {
        if (hash) for (const c of chunks) hash.update(c);
        writeSmallPart(abs, chunks);
        reclaimAfter(written);
      }
    } else {
      let fh: FileHandle;
      try {
        fh = await openPart(abs, offset > 0 ? 'append' : 'truncate');
      } catch (err) {
        if (offset > 0 && err instanceof PathError) {
          // A .part that is not ours to append to (hard-linked, not a regular file): the clean
          // start replaces it with a new file of our own instead of failing the item.
          await drain(res);
          throw new Restart();
        }
        throw err;
      }
      try {
        if (hash && offset > 0) await hashFile(abs + '.part', hash);
        written = await writeBody(res, fh, offset, hash, ctx, result, opts.maxFilesize);
      } catch (err) {
        await fh.close();
        // Past --max-filesize the file is not kept, not even as a .part to resume.
        if (err instanceof Final) await discardPart(abs);
        throw err;
      }
      await fh.close();
      res = undefined; // consumed
      lease.release();
    }

    if (expectedTotal >= 0 && written !== expectedTotal) {
      const err = new Error(`body cut short: got ${written} of ${expectedTotal} bytes`) as Error & { code: string };
      err.code = 'BULKGET_SHORT_BODY';
      throw err;
    }
    if (item.size !== undefined && written !== item.size) {
      await discardPart(abs);
      throw new Final('failed', `size mismatch: got ${written} bytes, expected ${item.size}`, status);
    }
    if (hash) {
      const got = hash.digest('hex');
      if (got !== item.sha256) {
        await discardPart(abs);
        throw new Final('failed', `sha256 mismatch: got ${got}, expected ${item.sha256}`, status);
      }
    }

    let finalRel = item.out;
    let finalAbs = abs;
    const cdName = disposition ? sanitizeDispositionName(disposition) : null;
    // `.bulkget` is a safe name but holds our own records: the URL's name is used instead.
    if (cdName && cdName.toLowerCase() !== '.bulkget') {
      // The server's name is known only now, so its collision suffix goes in completion order.
      const dir = item.out.includes('/') ? item.out.slice(0, item.out.lastIndexOf('/') + 1) : '';
      const assigned = ctx.names.assign(dir + cdName, item.url.href + '#cd');
      if (assigned) {
        finalRel = assigned;
        finalAbs = await ctx.dirs.ensureParent(finalRel);
      }
    }
    await commitPart(abs, finalAbs);
    stats.bytesDone += written;
    ctx.state?.recordDone(finalRel, item.url.href, { etag, lastModified, size: written });
    return { kind: 'done', outcome: 'downloaded' };
  } finally {
    stats.active--;
    if (res) res.body.destroy();
    lease.release();
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

/** Reads a small body into `chunks`; resolves with its length. */
function readSmallBody(
  res: Dispatcher.ResponseData,
  chunks: Buffer[],
  ctx: TransferContext,
  result: ItemResult,
  maxFilesize: number,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let n = 0;
    const body = res.body;
    body.on('data', (chunk: Buffer) => {
      n += chunk.length;
      ctx.stats.bytes += chunk.length;
      result.bytes += chunk.length;
      if (maxFilesize > 0 && n > maxFilesize) {
        body.destroy();
        reject(new Final('failed', `file grew past --max-filesize (${maxFilesize} bytes)`));
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(n));
    body.once('error', reject);
  });
}

function writeBody(
  res: Dispatcher.ResponseData,
  fh: FileHandle,
  offset: number,
  hash: Hash | undefined,
  ctx: TransferContext,
  result: ItemResult,
  maxFilesize: number,
): Promise<number> {
  // Chunks that arrive while a write is under way are gathered and written together with one
  // writev: one thread-pool round trip per batch instead of per 64 KiB chunk (an await per
  // chunk held big files to about a third of the peers' MB/s). The body is paused only when a
  // batch grows past BATCH_LIMIT, so memory stays bounded whatever the file size.
  return new Promise<number>((resolve, reject) => {
    const stats = ctx.stats;
    const body = res.body;
    let written = offset;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let writing = false;
    let ended = false;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      body.destroy();
      reject(err);
    };
    const flush = () => {
      if (writing || failed) return;
      if (batch.length === 0) {
        if (ended) resolve(written);
        return;
      }
      const bufs = batch;
      const bufsBytes = batchBytes;
      batch = [];
      batchBytes = 0;
      writing = true;
      fh.writev(bufs).then(() => {
        writing = false;
        reclaimAfter(bufsBytes);
        if (body.isPaused() && !ended) body.resume();
        flush();
      }, fail);
    };
    body.on('data', (chunk: Buffer) => {
      if (failed) return;
      written += chunk.length;
      stats.bytes += chunk.length;
      result.bytes += chunk.length;
      if (maxFilesize > 0 && written > maxFilesize) {
        fail(new Final('failed', `file grew past --max-filesize (${maxFilesize} bytes)`));
        return;
      }
      hash?.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (!writing) flush();
      else if (batchBytes > BATCH_LIMIT) body.pause();
    });
    body.once('end', () => {
      ended = true;
      flush();
    });
    // A transport error mid-body: the bytes already received are good, so they still go to the
    // .part before the attempt fails, and the retry's Range starts right after them (no byte is
    // fetched twice).
    body.once('error', (err: Error) => {
      if (failed) return;
      const finish = () => {
        if (failed) return;
        if (writing) {
          setImmediate(finish);
          return;
        }
        const rest = batch;
        batch = [];
        if (rest.length === 0) return fail(err);
        writing = true;
        fh.writev(rest).then(() => fail(err), fail);
      };
      finish();
    });
  });
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
}

/** What a leftover .part allows: continue with Range + If-Range, or nothing. */
async function resumeState(item: Item, abs: string, ctx: TransferContext): Promise<Resume | undefined> {
  const size = await partSize(abs);
  if (size <= 0) return undefined;
  const rec = await ctx.state?.lookup(item.out);
  if (!rec || rec.k !== 'part' || rec.u !== item.url.href) return undefined;
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
 * A pool slot. Stopping the run destroys the pool (run.ts), which rejects every waiter and
 * aborts every request at once, so a waiter never sits out an endpoint pause after Ctrl-C; that
 * replaces a listener on the shutdown signal per request, which cost measurable CPU per file.
 */
function acquire(ctx: TransferContext, origin: string, front: boolean): Promise<Lease> {
  if (ctx.signal.aborted) return Promise.reject(new AbortedError());
  return ctx.pool.acquire(origin, front);
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

async function drain(res: Dispatcher.ResponseData): Promise<void> {
  // An unread body keeps its socket busy: read it away (small) so the socket can be reused.
  try {
    await res.body.dump({ limit: 256 * 1024 });
  } catch {
    // The socket is gone; the Client will open a new one when the slot is used next.
  }
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
