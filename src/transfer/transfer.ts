// One item, from its URL to a verified file under its final name (or a clear failure):
//
//   plan (if-exists, conditions, resume) -> [ slot -> attempt -> verdict -> policy ]* -> commit
//
// The loop owns retries, redirects, resume and conditional requests itself instead of leaning
// on undici's RetryAgent/redirect interceptor, for three reasons: every hop and retry must go
// back through the fair pool (a waiting retry holds no slot; a redirect to another host needs a
// slot there), Retry-After must be honoured up to --max-retry-wait rather than a fixed cap, and
// timeouts must be retried too.

import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Item, ItemResult, Outcome } from '../types.js';
import { describeError, errorCode, isDiskFull } from '../errors.js';
import { escapeControls } from '../text.js';
import type { Placement } from '../store/dest.js';
import { discardPart, partSize } from '../store/files.js';
import { requestHeaders } from '../http/credentials.js';
import { maxTimeReached } from '../http/watchdog.js';
import { conditionsFor, resumeFrom } from './plan.js';
import { attempt, type AttemptResult } from './attempt.js';
import { checkBody, commit } from './commit.js';
import { isRetryableError, redirectStep, retryStep } from './policy.js';
import type { TransferContext } from './context.js';
import { nowMs } from '../clock.js';

/** The run was stopped while this item was under way: it is neither done nor failed. */
class AbortedError extends Error {
  constructor() {
    super('interrupted');
  }
}

/** How an item ends, from inside the loop. */
class End {
  constructor(
    readonly outcome: Outcome,
    readonly error?: string,
  ) {}
}
// The ends that carry no message, made once.
const DOWNLOADED = new End('downloaded');
const SKIPPED = new End('skipped');
const UNCHANGED = new End('unchanged');

export async function transfer(item: Item, ctx: TransferContext): Promise<ItemResult> {
  const result: ItemResult = { item, url: item.url.href, out: item.out, outcome: 'failed', attempts: 0, bytes: 0, timeMs: 0 };
  let end: End;
  const at: { part?: string } = {};
  try {
    end = await run(item, ctx, result, at);
  } catch (err) {
    if (isDiskFull(err) && ctx.signal.aborted) {
      // The run already stopped for a full disk (or was stopped): the items that were being
      // written when it filled up are interrupted, as Ctrl-C leaves them, not failed one by one.
      throw new AbortedError();
    } else if (isDiskFull(err)) {
      // No later item could be written either: this one fails and the run stops.
      const why = describeError(err);
      ctx.stop(why);
      end = new End('failed', why);
    } else if (err instanceof AbortedError || ctx.signal.aborted) {
      throw new AbortedError();
    } else {
      end = new End('failed', describeError(err));
    }
  }
  result.outcome = end.outcome;
  // A partial the next run could not continue (no validator to guard a Range, as a chunked or
  // close-delimited answer without ETag or Last-Modified) is only litter once the item failed.
  // A run that stopped (a full disk) keeps its partials, as an interrupt does (SPEC).
  if (end.outcome === 'failed' && at.part !== undefined && !ctx.signal.aborted) await dropUseless(item, at.part, ctx);
  // Messages can carry a server's words (a Location): never raw control characters.
  if (end.error !== undefined) result.error = escapeControls(end.error);
  return result;
}

async function run(item: Item, ctx: TransferContext, result: ItemResult, at: { part?: string }): Promise<End> {
  const { opts } = ctx;
  let place: Placement;
  try {
    // Without a promise where no folder needs a system call (a flat list into DEST).
    place = ctx.dirs.placeKnown(item.out) ?? (await ctx.dirs.place(item.out));
  } catch (err) {
    if (isDiskFull(err)) throw err;
    return new End('failed', describeError(err));
  }
  at.part = place.part;
  // In a folder that held nothing when the run began the file cannot exist yet: no conditions.
  const conditional = place.fresh ? undefined : await conditionsFor(item, place, opts.ifExists, ctx.state);
  if (conditional === 'skip') return SKIPPED;

  let resume = place.partFresh ? undefined : await resumeFrom(item, place.part, ctx.state);
  let url = item.url;
  let hops = 0;
  let retry = 0;
  let spent = 0; // ms of this item's --max-time used so far
  let lenientTries = 0;
  // URLs this item has been sent to, for loop detection: made at the first redirect.
  let visited: Set<string> | undefined;

  for (;;) {
    if (ctx.signal.aborted) throw new AbortedError();
    // Credentials only where they belong: a redirect to another origin drops them.
    let headers = requestHeaders(opts.headers, item.url, url, opts.credentials);
    // The shared object as it is for the usual request: it is never changed (attempt() adds
    // `host` to a copy of its own), and a copy per item was garbage that lived as long as the item.
    if (resume || (conditional && hasKeys(conditional))) headers = { ...headers, ...conditional };
    if (resume) {
      headers['range'] = `bytes=${resume.offset}-`;
      headers['if-range'] = resume.validator;
    }
    // An item with a checksum that continues a partial needs the partial's bytes in its hash:
    // read before a slot is taken, so no socket waits on the disk.
    const partHash = item.sha256 && resume ? await hashPart(place.part) : undefined;
    let a: AttemptResult | undefined;
    let failure: unknown;
    const lease = await ctx.slots.acquire(url.origin, hops > 0 || retry > 0 || lenientTries > 0);
    result.attempts++;
    // --max-time counts attempts and backoff waits, never the wait for a slot (SPEC).
    const remainingMs = opts.maxTimeMs > 0 ? opts.maxTimeMs - spent : undefined;
    if (remainingMs !== undefined && remainingMs <= 0) {
      lease.release();
      return new End('failed', maxTimeReached(opts.maxTimeMs).message);
    }
    const started = nowMs();
    try {
      a = await attempt({ item, url, headers, place, resume, partHash, remainingMs }, lease, ctx, result);
    } catch (err) {
      if (isDiskFull(err)) throw err;
      if (ctx.signal.aborted) throw new AbortedError();
      failure = err;
    }
    const took = nowMs() - started;
    result.timeMs += took;
    spent += took;

    // What happened, as one of: done, a redirect to follow, a clean restart, or a failure that
    // another attempt may (retry) or may not (final) cure.
    let retryReason: string | undefined;
    let waitMs: number | undefined;
    if (a === undefined) {
      if (errorCode(failure) === 'BULKGET_BAD_HEAD' && lenientTries < 2) {
        // A head the parser refused: from now on this endpoint's sockets fold repeated headers
        // before the parser sees them (curl and wget accept such heads). Asked again at once, on
        // a fresh socket; not a retry: nothing went wrong that waiting would cure.
        lenientTries++;
        if (!ctx.lenient.has(url.origin)) {
          ctx.lenient.add(url.origin);
          ctx.slots.refresh(url.origin);
        }
        continue;
      }
      if (!isRetryableError(failure)) return new End('failed', describeError(failure));
      retryReason = describeError(failure);
    } else {
      const v = a.verdict;
      switch (v.kind) {
        case 'body': {
          const check = checkBody(a.body!, item);
          if (!check.ok) {
            if (!check.retry) {
              discardPart(place.part);
              return new End('failed', check.reason);
            }
            retryReason = check.reason;
            break;
          }
          result.out = await commit(item, place, a.body!, v, ctx);
          return DOWNLOADED;
        }
        case 'unchanged':
          return UNCHANGED;
        case 'final':
          return new End(v.outcome, v.reason);
        case 'restart':
          discardPart(place.part);
          resume = undefined;
          continue;
        case 'redirect': {
          hops++;
          visited ??= new Set<string>([item.url.href]);
          const step = redirectStep(url, v.location, hops, opts.maxRedirects, visited);
          if (step.kind === 'fail') return new End('failed', step.error);
          visited.add(step.url.href);
          url = step.url;
          continue;
        }
        case 'retry':
          retryReason = v.reason;
          waitMs = v.waitMs;
          break;
      }
    }

    const step = retryStep(retryReason!, retry, opts, spent, waitMs);
    if (step.kind === 'fail') return new End('failed', step.error);
    ctx.stats.retries++;
    ctx.report.retry({ item, attempt: retry + 1, delayMs: step.waitMs, reason: retryReason! });
    retry++;
    spent += step.waitMs;
    await sleep(step.waitMs, ctx.signal);
    // A partial written by the failed attempt is continued if we know its validator.
    resume = await resumeFrom(item, place.part, ctx.state);
  }
}

/** Removes the partial of a failed item unless a later run could continue it (resumeFrom). */
async function dropUseless(item: Item, part: string, ctx: TransferContext): Promise<void> {
  const size = partSize(part);
  if (size < 0) return;
  // Opened for a body that never began (the parser refused its first chunk size): nothing to continue.
  if (size === 0) return discardPart(part);
  try {
    if ((await resumeFrom(item, part, ctx.state)) === undefined) discardPart(part);
  } catch {
    // The record could not be read: the partial stays, as it would have.
  }
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** sha256 of a leftover partial file, for an item with a checksum whose download continues it. */
async function hashPart(part: string): Promise<Hash> {
  const hash = process.getBuiltinModule('node:crypto').createHash('sha256');
  for await (const chunk of createReadStream(part) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash;
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

