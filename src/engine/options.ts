// The options of a download, as a library caller gives them (times in ms, sizes in bytes), with
// the CLI's defaults, checked once: a bad value is a UsageError thrown by download() itself.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { bulkgetVersion } from '../version.js';
import { parseShard, type Shard } from '../items/shard.js';
import type { Layout } from '../items/maker.js';
import { parseNetrc, type Netrc } from '../http/credentials.js';
import type { IfExists } from '../transfer/plan.js';
import type { TransferOptions } from '../transfer/context.js';

export interface DownloadOptions {
  /** Destination folder, created when missing. Default `downloads`. */
  dest?: string;
  /** `flat` (every file in DEST, default) or `tree` (DEST/host/path, like wget -x). */
  layout?: Layout;
  /** Connections open at once, in total (idle keep-alive ones included). Default 100; 0 = none. */
  limit?: number;
  /** Connections open at once to one scheme://host:port. Default 0 = none. */
  perHost?: number;
  /** Request starts per second per endpoint. Default 0 = none. */
  rate?: number;
  /** The whole run's download bandwidth, bytes per second. Default 0 = none. */
  maxSpeed?: number;
  /** Each endpoint's download bandwidth, bytes per second. Default 0 = none. */
  maxHostSpeed?: number;
  /** Retries per item (resets, timeouts, 408/425/429/5xx, bodies cut short). Default 3. */
  retries?: number;
  /** Base of the exponential backoff, ms. Default 500. */
  retryDelay?: number;
  /** Longest Retry-After honoured, ms. Default 60,000. */
  maxRetryWait?: number;
  /** Connect timeout, ms. Default 10,000; 0 = none. */
  connectTimeout?: number;
  /** Longest time without a byte of the answer, ms (a 1xx answer is not progress). Default 30,000; 0 = none. */
  timeout?: number;
  /** Longest time one item may take, attempts and backoff waits included (not queue time), ms. Default 0 = none. */
  maxTime?: number;
  /** Redirects followed per item. Default 10. */
  maxRedirects?: number;
  /** A file already in DEST: `skip` (default), `update` (conditional request) or `overwrite`. */
  ifExists?: IfExists;
  /** Name files by the server's Content-Disposition. Default false. */
  contentDisposition?: boolean;
  /** Give each file the server's Last-Modified as its time (as wget does). Default true. */
  remoteTime?: boolean;
  /** Fail a file larger than this many bytes. Default 0 = none. */
  maxFilesize?: number;
  /** Extra request headers. `Authorization`, `Cookie` and `Proxy-Authorization` stay with their origin. */
  headers?: Record<string, string>;
  /** Default `bulkget/VERSION`. */
  userAgent?: string;
  /** Do not verify TLS certificates. Default false. */
  insecure?: boolean;
  /**
   * A PEM file of certificates to trust besides Node's bundled roots, read at the first https
   * connection: what NODE_EXTRA_CA_CERTS does (which Node itself still honours as well).
   */
  extraCaCerts?: string;
  /** An http:// proxy for every request; default HTTP_PROXY / HTTPS_PROXY / NO_PROXY from `env`. */
  proxy?: string;
  /** Send credentials to the other hosts a redirect names (curl --location-trusted). Default false. */
  locationTrusted?: boolean;
  /** Per-host credentials from a netrc file: `true` for ~/.netrc (absent is fine), or a path. */
  netrc?: boolean | string;
  /** Keep only the items whose URL hashes to shard k of n: `{ k, n }` or `"K/N"`. */
  shard?: Shard | string;
  /** Stops the download: no new requests, transfers aborted, partial files kept for resume. */
  signal?: AbortSignal;
  /** Time between `progress` events, ms. Default 1,000; 0 = none. */
  progressInterval?: number;
  /** Failures kept in the summary (all of them are in the `result` and `invalid` events). Default 10,000. */
  keepFailures?: number;
  /** Where HTTP_PROXY, HTTPS_PROXY, NO_PROXY and HOME are read. Default process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Run the download as this many shards at once, each on a thread of its own: how one machine
   * uses more than one core. The list is read and named once; --limit, --per-host, --rate and the
   * speed caps are
   * split so that their sums never exceed what was asked. Default 1.
   */
  jobs?: number;
  /**
   * With `jobs` above 1: a module (its file URL) each job thread imports before it starts; its
   * `setupJob({ bytesReceived })` is called there. For an app's own per-thread policy (the CLI's
   * garbage collection); the engine itself sets nothing up. Default none.
   */
  jobSetup?: string;
}

/** For the engine's own use (a job of a --jobs run): not part of the public options. */
export interface Internal {
  /** The DEST lock is held by the run this one is a part of. */
  lockHeld?: boolean;
  /** This run's record file is state-TAG.jsonl. */
  logTag?: string;
  /** Items come named already (by the run): their `out` is used as it is. */
  prenamed?: boolean;
  /** This engine's share of the process's write-batch memory (1 / jobs in a --jobs run). */
  writeShare?: number;
}

export interface ResolvedOptions {
  version: string;
  dest: string;
  layout: Layout;
  limit: number;
  perHost: number;
  rate: number;
  maxSpeed: number;
  maxHostSpeed: number;
  connectTimeoutMs: number;
  timeoutMs: number;
  insecure: boolean;
  extraCaCerts?: string;
  proxy?: string;
  shard?: Shard;
  progressIntervalMs: number;
  keepFailures: number;
  jobs: number;
  internal: Internal;
  /** The options as given (the jobs of a --jobs run start from them). */
  given: DownloadOptions;
  env: Record<string, string | undefined>;
  transfer: TransferOptions;
}

function count(name: string, v: number | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new UsageError(`${name} must be a whole number >= ${min}, got ${String(v)}`);
  return v;
}

/** More threads than this would only compete for the same cores. */
const MAX_JOBS = 256;

function jobsOf(v: number | undefined): number {
  const n = count('--jobs', v, 1, 1);
  if (n > MAX_JOBS) throw new UsageError(`--jobs must be at most ${MAX_JOBS}, got ${n}`);
  return n;
}

/** A rate (bytes or requests per second), 0 = none. */
function perSecond(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new UsageError(`${name} must be a number >= 0, got ${String(v)}`);
  return v;
}

function ms(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new UsageError(`${name} must be a number of milliseconds >= 0, got ${String(v)}`);
  return Math.round(v);
}

function choice<T extends string>(name: string, v: T | undefined, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!choices.includes(v)) throw new UsageError(`${name} must be one of ${choices.join(', ')}, got "${String(v)}"`);
  return v;
}

/** Header names lower-cased, values checked: a line break would forge a header. */
function headersOf(given: Record<string, string> | undefined, userAgent: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new UsageError(`header name "${k}" is not a valid token`);
    if (typeof v !== 'string' || /[\r\n\0]/.test(v)) throw new UsageError(`header "${k}" must be a string without line breaks`);
    out[k.toLowerCase()] = v;
  }
  out['user-agent'] ??= userAgent;
  return out;
}

function netrcOf(v: boolean | string | undefined, env: Record<string, string | undefined>): Netrc | undefined {
  if (v === undefined || v === false) return undefined;
  const file = v === true ? join(env.HOME ?? homedir(), '.netrc') : v;
  try {
    return parseNetrc(readFileSync(file, 'utf8'));
  } catch (err) {
    // ~/.netrc is optional, as with curl --netrc; a file named on purpose is not.
    if (v === true && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read netrc file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function resolveOptions(o: DownloadOptions = {}, internal: Internal = {}): ResolvedOptions {
  const env = o.env ?? process.env;
  const version = bulkgetVersion();
  if (o.proxy !== undefined) {
    let ok = false;
    try {
      ok = new URL(o.proxy.includes('://') ? o.proxy : `http://${o.proxy}`).protocol === 'http:';
    } catch {
      // not a URL
    }
    if (!ok) throw new UsageError(`--proxy must be an http:// proxy URL, got "${o.proxy}"`);
  }
  if (o.jobSetup !== undefined && !(typeof o.jobSetup === 'string' && o.jobSetup.startsWith('file:') && URL.canParse(o.jobSetup))) {
    throw new UsageError(`jobSetup must be a file: URL, got "${String(o.jobSetup)}"`);
  }
  let shard: Shard | undefined;
  if (o.shard !== undefined) {
    shard = typeof o.shard === 'string' ? parseShard(o.shard) : o.shard;
    if (!shard || !Number.isSafeInteger(shard.k) || !Number.isSafeInteger(shard.n) || shard.n < 1 || shard.k < 0 || shard.k >= shard.n) {
      throw new UsageError(`--shard must be K/N with 0 <= K < N, got "${typeof o.shard === 'string' ? o.shard : JSON.stringify(o.shard)}"`);
    }
  }
  const dest = o.dest ?? 'downloads';
  if (typeof dest !== 'string' || dest === '') throw new UsageError('--dest must not be empty');
  const rate = perSecond('--rate', o.rate);
  return {
    version,
    dest,
    layout: choice('--layout', o.layout, ['flat', 'tree'] as const, 'flat'),
    limit: count('--limit', o.limit, 100),
    perHost: count('--per-host', o.perHost, 0),
    rate,
    maxSpeed: perSecond('--max-speed', o.maxSpeed),
    maxHostSpeed: perSecond('--max-host-speed', o.maxHostSpeed),
    // 0 = none, as wget's --timeout=0 and curl's --connect-timeout 0 (a 1 ms limit before).
    connectTimeoutMs: ms('--connect-timeout', o.connectTimeout, 10_000),
    timeoutMs: ms('--timeout', o.timeout, 30_000),
    insecure: Boolean(o.insecure),
    extraCaCerts: o.extraCaCerts || undefined,
    proxy: o.proxy,
    shard,
    progressIntervalMs: ms('progressInterval', o.progressInterval, 1000),
    keepFailures: count('keepFailures', o.keepFailures, 10_000),
    jobs: jobsOf(o.jobs),
    internal,
    given: o,
    env,
    transfer: {
      retries: count('--retries', o.retries, 3),
      maxRetryWaitMs: ms('--max-retry-wait', o.maxRetryWait, 60_000),
      backoffBaseMs: ms('--retry-delay', o.retryDelay, 500),
      maxRedirects: count('--max-redirects', o.maxRedirects, 10),
      headers: headersOf(o.headers, o.userAgent ?? `bulkget/${version}`),
      ifExists: choice('--if-exists', o.ifExists, ['skip', 'update', 'overwrite'] as const, 'skip'),
      maxFilesize: count('--max-filesize', o.maxFilesize, 0),
      contentDisposition: Boolean(o.contentDisposition),
      credentials: { trusted: Boolean(o.locationTrusted), netrc: netrcOf(o.netrc, env) },
      maxTimeMs: ms('--max-time', o.maxTime, 0),
      remoteTime: o.remoteTime ?? true,
    },
  };
}
