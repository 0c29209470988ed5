// One error base class for everything that ends a run before it starts, carrying the exit status
// the CLI gives it; and the one-line description of any error a person reads in a report.

/** A failure of the whole run, not of one item: `exitCode` is what the CLI exits with. */
export class BulkgetError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad option value, conflicting options, an output that is also an input: exit 2. */
export class UsageError extends BulkgetError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** DEST cannot be used (unwritable, in use), an input or output file cannot be opened: exit 2. */
export class SetupError extends BulkgetError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The code of an error or of its cause (`ECONNRESET`, `UND_ERR_SOCKET`, ...). */
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
  // 16 KiB: MAX_HEAD_BYTES in engine/setup.ts.
  UND_ERR_HEADERS_OVERFLOW: 'the response head is larger than 16 KiB',
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
  // Our own codes (BULKGET_*) are for the program; the message says it all.
  return code && !code.startsWith('BULKGET_') && !line.includes(code) ? `${line} (${code})` : line;
}

/** The disk (or the user's quota) is full: no later download can succeed either. */
export function isDiskFull(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}
