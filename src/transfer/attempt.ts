// One request of an item on a leased connection: the head is classified into a verdict the moment
// it is parsed (verdict.ts), and a body worth keeping gets its sink before its first byte. The
// attempt returns the verdict; only a broken connection (or a full disk) is thrown.

import type { Hash } from 'node:crypto';
import type { Item, ItemResult, Lease } from '../types.js';
import type { Placement } from '../store/dest.js';
import { PathError, discardPart } from '../store/files.js';
import { errorCode } from '../errors.js';
import { BodyFile } from '../store/sink.js';
import { exchange, type BodySink, type Head } from '../http/exchange.js';
import { recycle } from '../http/reads.js';
import { maxTimeReached } from '../http/watchdog.js';
import { classify, type Asked, type Resume, type Verdict } from './verdict.js';
import { recordedUrl } from './plan.js';
import type { TransferContext } from './context.js';

/** How a kept-alive socket that the server closed reads when a request goes out on it. */
const STALE = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
const MAX_STALE = 2;

// Bodies at most this big are gathered and written in one go (by the writer thread).
const GATHER_LIMIT = 256 << 10;
// Bodies past this size get their resume record written before their first byte (one
// synchronous append each); smaller streamed ones (past GATHER_LIMIT) get it batched, on disk
// within the state log's 200 ms, so a kill -9 later than that still leaves a partial the next
// run continues (it restarted from zero before).
const SMALL_BODY = 1 << 20;

interface Request {
  item: Item;
  url: URL;
  headers: Record<string, string>;
  place: Placement;
  resume?: Resume;
  /** The partial file's bytes hashed already, for an item with a checksum that continues it. */
  partHash?: Hash;
  /** --max-time left to the item, in ms. */
  remainingMs?: number;
}

export interface AttemptResult {
  verdict: Verdict;
  status: number;
  /** The body, when the verdict was 'body' and it arrived whole as far as the connection knows. */
  body?: BodyFile;
}

export async function attempt(req: Request, lease: Lease, ctx: TransferContext, result: ItemResult): Promise<AttemptResult> {
  const { item, url, place, resume } = req;
  const { opts } = ctx;
  const asked: Asked = {
    conditional: req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined,
    resume,
    size: item.size,
    maxFilesize: opts.maxFilesize,
    maxRetryWaitMs: opts.maxRetryWaitMs,
    // A name given in the input stays (curl -o, wget -O): the server's only replaces the URL's.
    contentDisposition: opts.contentDisposition && !item.given,
  };
  let verdict: Verdict | undefined;
  let body: BodyFile | undefined;

  // Runs inside the parser, once, with the final head: every answer but a wanted body is a verdict
  // here, and a wanted body gets its file before its first byte.
  const decide = (head: Head): BodySink | undefined => {
    result.status = head.status;
    let v = classify(head.status, head.headers, asked);
    // Paused before the lease goes back, so the slot is not handed to the next request there.
    if (v.kind === 'retry' && v.pauseMs !== undefined) ctx.slots.pause(url.origin, Date.now() + v.pauseMs);
    if (v.kind === 'final' && v.discard) discardPart(place.part);
    if (v.kind === 'body') {
      const file = bodyFile(v, req, ctx, result);
      if (file === 'restart') v = { kind: 'restart' };
      else body = file;
    }
    verdict = v;
    return body;
  };

  ctx.stats.active++;
  try {
    const proxyAuth = ctx.proxyAuth?.(url);
    let headers: Record<string, string>;
    if (proxyAuth) headers = { ...req.headers, host: url.host, 'proxy-authorization': proxyAuth };
    else if (req.headers === opts.headers) headers = withHost(opts.headers, url.host);
    else headers = { ...req.headers, host: url.host };
    let head: Head;
    for (let stale = 0; ; stale++) {
      // Whether the request goes out on a socket that served an earlier one (kept alive).
      const reused = ((lease.client as { stats?: { connected?: number } }).stats?.connected ?? 0) > 0;
      try {
        head = await exchange(lease.client, { path: ctx.requestPath(url), headers }, decide, {
          watchdog: ctx.watchdog,
          remainingMs: req.remainingMs,
          onMaxTime: req.remainingMs !== undefined ? () => maxTimeReached(opts.maxTimeMs) : undefined,
          spend: ctx.bandwidth?.spender(url.origin),
        });
        break;
      } catch (err) {
        // The server closed the kept-alive socket as the request went out on it (a close right
        // after an answer without `Connection: close`), before any answer: asked again on this
        // slot once the close is seen (a turn of the event loop), so the slot dials afresh, as
        // curl does. Reported as a retry (a request was sent again) but outside --retries and
        // with no backoff: a retry after a backoff gave the slot to the next item, which met the
        // next dead socket (50 files from such a server: 27 retries, 0.77 s; now 0.26 s).
        if (reused && verdict === undefined && stale < MAX_STALE && STALE.has(errorCode(err) ?? '')) {
          ctx.stats.retries++;
          ctx.report.retry({ item, attempt: result.attempts, delayMs: 0, reason: 'the server closed a kept-alive connection before answering' });
          result.attempts++;
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        throw err;
      }
    }
    return { verdict: verdict!, status: head.status, body };
  } finally {
    ctx.stats.active--;
    body?.untrack();
    // The socket is free for the next item while this one is checked and moved into place.
    lease.release();
  }
}

// The run's own headers plus `host`, one object per host and run, shared by every request that
// sends them unchanged (undici only reads them): a copy per request was garbage alive as long as
// the request. Past MAX_HOSTS hosts a copy is made each time.
const hostHeaders = new WeakMap<Record<string, string>, Map<string, Record<string, string>>>();
const MAX_HOSTS = 1000;

function withHost(base: Record<string, string>, host: string): Record<string, string> {
  let byHost = hostHeaders.get(base);
  if (!byHost) hostHeaders.set(base, (byHost = new Map()));
  let h = byHost.get(host);
  if (!h) {
    h = { ...base, host };
    if (byHost.size < MAX_HOSTS) byHost.set(host, h);
  }
  return h;
}

/** The partial file for a body verdict, or 'restart' when the leftover one is not ours to append to. */
function bodyFile(v: Extract<Verdict, { kind: 'body' }>, req: Request, ctx: TransferContext, result: ItemResult): BodyFile | 'restart' {
  const { item, place } = req;
  const state = ctx.state;
  const early = v.bodyLength < 0 || v.bodyLength > SMALL_BODY;
  if (state && early) {
    // Big or unknown size: record the validator before the first byte lands, so a kill -9
    // mid-body leaves a partial that the next run can continue with If-Range.
    state.recordPart(item.out, recordedUrl(item), { etag: v.etag, lastModified: v.lastModified, size: v.expectedTotal >= 0 ? v.expectedTotal : undefined });
  }
  const hash = !item.sha256 ? undefined : v.offset > 0 && req.partHash ? req.partHash : process.getBuiltinModule('node:crypto').createHash('sha256');
  // Small and whole, as most files of a bulk list are: gathered and written in one go after the
  // last byte. Anything else is written as it comes.
  const gather = v.offset === 0 && v.bodyLength >= 0 && v.bodyLength <= GATHER_LIMIT;
  const file = new BodyFile({
    part: place.part,
    offset: v.offset,
    expectedTotal: v.expectedTotal,
    gather,
    hash,
    maxFilesize: ctx.opts.maxFilesize,
    budget: ctx.budget,
    counters: [ctx.stats, result],
    release: recycle,
  });
  // A smaller body cut short (gathered in memory, or written as it came up to SMALL_BODY) is worth
  // keeping when a validator can guard its continuation: the retry then asks only for the rest
  // (Range + If-Range), as it does for a big one. Recorded only when cut, so a whole one costs no
  // state record before its first byte.
  const strong = v.etag !== undefined && !v.etag.startsWith('W/');
  if (!early && state && (strong || v.lastModified !== undefined)) {
    const validators = { etag: v.etag, lastModified: v.lastModified, size: v.expectedTotal };
    if (!gather && v.offset === 0) state.notePart(item.out, recordedUrl(item), validators);
    file.keepCut = () => state.recordPart(item.out, recordedUrl(item), validators);
  }
  if (!gather) {
    try {
      file.open();
    } catch (err) {
      // A partial that is not ours to append to (hard-linked, not a regular file): the clean
      // start replaces it with a new file of our own instead of failing the item.
      if (v.offset > 0 && err instanceof PathError) return 'restart';
      throw err;
    }
  }
  return file;
}
