// When to retry and how long to wait: pure functions, tested by tables.

/** Statuses worth another try (SPEC: 408, 425, 429, 500, 502, 503, 504). */
export const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Error codes of failures that a later attempt can cure: resets, refusals, timeouts. */
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
  'BULKGET_SHORT_BODY',
  'BULKGET_STALLED',
]);

export function isRetryableError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** The disk (or the user's quota) is full: no later download can succeed either. */
export function isDiskFull(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; cause?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (e.cause) return errorCode(e.cause);
  }
  return undefined;
}

const MESSAGES: Record<string, string> = {
  ECONNRESET: 'connection reset by peer',
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary DNS failure',
  EPIPE: 'connection closed while sending',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the response',
  UND_ERR_BODY_TIMEOUT: 'timed out waiting for body bytes',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body cut short: the connection ended before Content-Length bytes',
  CERT_HAS_EXPIRED: 'TLS certificate has expired (use -k to ignore)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate (use -k to ignore)',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed TLS certificate in chain (use -k to ignore)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate cannot be verified (use -k to ignore)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host name (use -k to ignore)',
};

/** One line, no stack: what a person reads in the report. */
export function describeError(err: unknown): string {
  const code = errorCode(err);
  if (code && MESSAGES[code]) return MESSAGES[code];
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n')[0] ?? msg;
  return code && !code.startsWith('BULKGET_') && !line.includes(code) ? `${line} (${code})` : line;
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
