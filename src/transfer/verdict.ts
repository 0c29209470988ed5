// What one response head means for the item, decided once per head: a pure function of the
// status, the headers and what was asked, so every answer a server can give is a row in a table
// test (test/verdict.test.ts) rather than a path through the transfer loop.

import { RETRYABLE_STATUS, parseRetryAfter, seconds } from './policy.js';

type ResponseHeaders = Record<string, string | string[] | undefined>;

/** A leftover partial file that the request asks to continue (Range + If-Range). */
export interface Resume {
  offset: number;
  validator: string;
  /** The file's size as recorded when the partial was begun, when it was known. */
  size?: number;
}

/** What the request asked for, as far as the answer's meaning depends on it. */
export interface Asked {
  /** If-None-Match or If-Modified-Since was sent. */
  conditional: boolean;
  resume?: Resume;
  /** The size the input line promised, if any. */
  size?: number;
  maxFilesize: number; // 0 = none
  maxRetryWaitMs: number;
  contentDisposition: boolean;
}

export type Verdict =
  /** A body to keep: bytes from `offset` on, `expectedTotal` in all (-1 unknown). */
  | { kind: 'body'; offset: number; expectedTotal: number; bodyLength: number; etag?: string; lastModified?: string; disposition?: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'unchanged' }
  /** Worth another attempt; `waitMs` from Retry-After; `pauseMs`: pause the whole endpoint that long. */
  | { kind: 'retry'; reason: string; waitMs?: number; pauseMs?: number }
  /** The item is done with this outcome; `discard`: its partial file is not worth keeping. */
  | { kind: 'final'; outcome: 'failed' | 'notFound'; reason: string; discard?: boolean }
  /** The partial file cannot be continued (range refused or answered wrongly): start clean. */
  | { kind: 'restart' };

function header(h: ResponseHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function classify(status: number, h: ResponseHeaders, asked: Asked, now = Date.now()): Verdict {
  if (status >= 300 && status < 400 && status !== 304) {
    const location = header(h, 'location');
    if (!location) return { kind: 'final', outcome: 'failed', reason: `HTTP ${status} without a Location header` };
    return { kind: 'redirect', location };
  }
  if (status === 304) {
    // Only a conditional request can be answered "not modified": without one there may be no file
    // at all, and calling it unchanged would report a download that never happened.
    if (!asked.conditional) return { kind: 'final', outcome: 'failed', reason: 'HTTP 304 (not modified) to a request that had no condition' };
    return { kind: 'unchanged' };
  }
  if (RETRYABLE_STATUS.has(status)) {
    const after = parseRetryAfter(header(h, 'retry-after'), now);
    if (after !== undefined && after > asked.maxRetryWaitMs) {
      return {
        kind: 'final',
        outcome: 'failed',
        reason: `HTTP ${status}: server asks to retry after ${Math.ceil(after / 1000)}s, more than --max-retry-wait ${seconds(asked.maxRetryWaitMs)}`,
      };
    }
    // A 429 or 503 with Retry-After asks the whole endpoint to slow down, not just this item.
    const pauseMs = after !== undefined && (status === 429 || status === 503) ? after : undefined;
    return { kind: 'retry', reason: `HTTP ${status}`, waitMs: after, pauseMs };
  }
  if (status === 404 || status === 410) return { kind: 'final', outcome: 'notFound', reason: `HTTP ${status}` };
  if (status === 416 && asked.resume) return { kind: 'restart' };
  // 203 is a 200 that a proxy changed; 204 says the file is empty (it has no body, whatever a
  // Content-Length says): an empty file, downloaded, as curl writes one. Any other status is not
  // the file.
  if (status !== 200 && status !== 203 && status !== 204 && status !== 206) return { kind: 'final', outcome: 'failed', reason: `HTTP ${status}` };

  const lengthHeader = header(h, 'content-length');
  const bodyLength = status === 204 ? 0 : lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : -1;
  let offset = 0;
  let expectedTotal = bodyLength;
  if (status === 206) {
    // We asked for the whole file: restarting would ask the same again, forever.
    if (!asked.resume) return { kind: 'final', outcome: 'failed', reason: 'server sent a partial answer (206) to a request for the whole file' };
    const total = resumedTotal(header(h, 'content-range'), asked.resume, bodyLength);
    // Not where our partial ends, not up to the end of the file, or not the size recorded for
    // it: appending would build a wrong file. Start clean.
    if (total === undefined) return { kind: 'restart' };
    offset = asked.resume.offset;
    expectedTotal = total;
  }
  if (asked.maxFilesize > 0 && expectedTotal > asked.maxFilesize) {
    return { kind: 'final', outcome: 'failed', reason: `file is larger than --max-filesize (${expectedTotal} bytes announced)`, discard: true };
  }
  if (asked.size !== undefined && expectedTotal >= 0 && expectedTotal !== asked.size) {
    return { kind: 'final', outcome: 'failed', reason: `size mismatch: server announces ${expectedTotal} bytes, expected ${asked.size}`, discard: true };
  }
  return {
    kind: 'body',
    offset,
    expectedTotal,
    bodyLength,
    etag: header(h, 'etag'),
    lastModified: header(h, 'last-modified'),
    disposition: asked.contentDisposition ? header(h, 'content-disposition') : undefined,
  };
}

/**
 * The file's total size when a 206 continues our partial exactly: it starts where the partial
 * ends, runs to the end of the file, agrees with Content-Length, and names the size recorded when
 * the partial was begun. Undefined otherwise.
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
