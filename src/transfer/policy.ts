// What to do after an attempt: retry (and how long to wait), follow a redirect, or give up.
// Pure functions, tested by tables (test/policies.test.ts); the transfer loop asks them once per
// attempt, never per chunk.

import { errorCode } from '../errors.js';
import { maskUrl } from '../text.js';

/** Statuses worth another try (SPEC: 408, 425, 429, 500, 502, 503, 504). */
export const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Error codes of failures that a later attempt can cure: resets, refusals, timeouts, cut bodies. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  // A body that ends before its Content-Length says (a FIN mid-body on a `Connection: close`
  // answer reads this way): the most common fault on the internet.
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  // A body cut short mid-way, after the head (http/exchange.ts): the message says how far it got.
  'BULKGET_CUT',
  'BULKGET_SHORT_BODY',
  'BULKGET_STALLED',
]);

export function isRetryableError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/**
 * Retry-After: delta-seconds or an HTTP-date. Returns milliseconds from `now`, or undefined
 * when absent or unreadable (then the normal backoff applies).
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(cap, base * 2^attempt)].
 * Full jitter spreads a herd of failing clients instead of having them retry in lock step.
 * `attempt` is 0 for the first retry.
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

interface RetryLimits {
  retries: number;
  backoffBaseMs: number;
  maxRetryWaitMs: number;
  /** --max-time in ms, 0 = none. */
  maxTimeMs: number;
}

type RetryStep = { kind: 'retry'; waitMs: number } | { kind: 'fail'; error: string };

/**
 * After a failure that another attempt may cure: wait and retry, or fail saying why. `retry` is
 * the number of retries made so far, `spentMs` the item's --max-time used so far, `waitMs` a
 * wait the server asked for (Retry-After), if any.
 */
export function retryStep(reason: string, retry: number, limits: RetryLimits, spentMs: number, waitMs?: number, random = Math.random): RetryStep {
  if (retry >= limits.retries) {
    return { kind: 'fail', error: limits.retries > 0 ? `${reason} (after ${retry + 1} attempts)` : reason };
  }
  // `Retry-After: 0` or a date gone by asks for no wait: the backoff still applies (as in curl),
  // or such a server got every retry at once.
  const wait = waitMs !== undefined && waitMs > 0 ? waitMs : backoffMs(retry, limits.backoffBaseMs, limits.maxRetryWaitMs, random);
  if (limits.maxTimeMs > 0 && spentMs + wait >= limits.maxTimeMs) {
    return { kind: 'fail', error: `${reason}; --max-time ${seconds(limits.maxTimeMs)} reached before the next attempt` };
  }
  return { kind: 'retry', waitMs: wait };
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

type RedirectStep = { kind: 'follow'; url: URL } | { kind: 'fail'; error: string };

/**
 * Where a redirect leads, or why it is refused: too many hops, an invalid or non-http(s) target,
 * a loop. `visited` holds every URL of this item so far (the target is added when followed).
 */
/**
 * A Location's raw bytes (header values arrive as latin1, one character per byte) with every byte
 * above 0x7f percent-encoded as it is, as curl sends them. Servers put raw UTF-8 there (`café` as
 * C3 A9); read as latin1 text and encoded again it became %C3%83%C2%A9, another URL.
 */
export function locationBytes(location: string): string {
  return /[\u0080-\u00ff]/.test(location) ? location.replace(/[\u0080-\u00ff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : location;
}

export function redirectStep(from: URL, location: string, hops: number, maxRedirects: number, visited: ReadonlySet<string>): RedirectStep {
  if (hops > maxRedirects) return { kind: 'fail', error: `too many redirects (more than ${maxRedirects})` };
  let target: URL;
  try {
    target = new URL(locationBytes(location), from);
  } catch {
    return { kind: 'fail', error: `redirect to an invalid URL: ${location.length > 200 ? location.slice(0, 200) + '...' : location}` };
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return { kind: 'fail', error: `redirect to a non-http(s) URL refused: ${target.protocol}` };
  }
  target.hash = '';
  if (visited.has(target.href)) return { kind: 'fail', error: `redirect loop at ${maskUrl(target.href)}` };
  return { kind: 'follow', url: target };
}
