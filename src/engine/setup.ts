// The run's resources: DEST (created and proved writable), its lock, the state log, the pool and
// how its sockets are made (TLS, proxies), the writer thread and the watchdog. Opened in order,
// closed in reverse, and a failure half-way closes what was opened.

import type { Stats } from '../types.js';
import { SetupError } from '../errors.js';
import { ConnectionPool } from '../pool/pool.js';
import { Client } from '../http/undici.js';
import { clientOrigin, closeSeen, makeConnector, proxyFor } from '../http/connect.js';
import { basicAuth, withoutUserinfo } from '../http/credentials.js';
import { Watchdog } from '../http/watchdog.js';
import { Bandwidth } from '../http/bandwidth.js';
import { cachedLookup } from '../http/dns.js';
import { closedByUs } from '../http/resets.js';
import type { LookupFunction, Socket } from 'node:net';
import { SafeDirs, prepareDest } from '../store/dest.js';
import { acquireLock, type Lock } from '../store/lock.js';
import { StateStore } from '../store/state.js';
import { SmallFileWriter } from '../store/writer.js';
import { BodyBudget } from '../store/sink.js';
import type { ResolvedOptions } from './options.js';

/** The most a response head may take: Node's own default, which undici would otherwise read (errors.ts names it). */
const MAX_HEAD_BYTES = 16 * 1024;

export interface Resources {
  destReal: string;
  lock: Lock;
  state: StateStore;
  pool: ConnectionPool;
  dirs: SafeDirs;
  writer: SmallFileWriter;
  budget: BodyBudget;
  /** None with --timeout 0. */
  watchdog: Watchdog | undefined;
  bandwidth?: Bandwidth;
  requestPath: (url: URL) => string;
  proxyAuth?: (url: URL) => string | undefined;
  lenient: Set<string>;
}

/** How long an evicted socket waits for the server's FIN before it is dropped. */
const EVICT_WAIT_MS = 1000;
/** How long a slot whose socket we closed waits before another socket takes its place (resets.ts). */
const SETTLE_MS = 5;

export async function openResources(o: ResolvedOptions, stats: Stats): Promise<Resources> {
  const destReal = prepareDest(o.dest);
  // A job of a --jobs run: the run holds the lock for all its jobs.
  const lock = o.internal.lockHeld ? { release: () => undefined } : await acquireLock(destReal, o.dest, { shard: o.shard });
  let state: StateStore;
  try {
    state = await StateStore.open(destReal, o.internal.logTag ?? o.shard);
  } catch (err) {
    lock.release();
    throw Object.assign(new SetupError(`cannot open ${o.dest}/.bulkget/state.jsonl: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`), { cause: err });
  }
  // The proxy decision is per endpoint; remember it so the per-request path costs a lookup.
  const proxies = new Map<string, URL | undefined>();
  const proxyOf = (origin: string): URL | undefined => {
    if (!proxies.has(origin)) {
      // Bounded: a list spread over a million hosts must not keep a million entries.
      if (proxies.size >= 10_000) proxies.clear();
      proxies.set(origin, proxyFor(new URL(origin), o.proxy, o.env));
    }
    return proxies.get(origin);
  };
  // Endpoints that sent a head the parser refused: their new sockets get lenient heads.
  const lenient = new Set<string>();
  const lookup = cachedLookup() as unknown as LookupFunction;
  // Each slot's current socket, for closing it so the server sees it go (closeSeen).
  const sockets = new WeakMap<Client, { socket?: Socket }>();
  const pool = new ConnectionPool({
    limit: o.limit,
    perHost: o.perHost,
    rate: o.rate,
    onSocket: (d) => {
      stats.openConnections += d;
    },
    evictClient: (client) => closeSeen(client, sockets.get(client)?.socket, EVICT_WAIT_MS),
    settle: (client) => {
      const socket = sockets.get(client)?.socket;
      if (!socket || !closedByUs(socket)) return undefined;
      return client.destroy().then(() => new Promise((resolve) => setTimeout(resolve, SETTLE_MS)));
    },
    makeClient: (origin) => {
      const proxy = proxyOf(origin);
      const held: { socket?: Socket } = {};
      const opened = (socket: Socket) => (held.socket = socket);
      const client = new Client(clientOrigin(origin, proxy), {
        connect: makeConnector({ origin, timeoutMs: o.connectTimeoutMs, insecure: o.insecure, extraCaCerts: o.extraCaCerts, proxy, lenient: () => lenient.has(origin), lookup, opened }),
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        pipelining: 1,
        keepAliveTimeout: 4000,
        // What undici takes from node:http when it is not given (Node's 16 KiB default): given
        // here, the bundled CLI need not load node:http at all (scripts/bundle.mjs).
        maxHeaderSize: MAX_HEAD_BYTES,
      });
      sockets.set(client, held);
      return client;
    },
  });
  // Absolute form only through an http proxy; with no proxy anywhere (the usual case) the
  // per-request origin lookup is skipped.
  const bandwidth = new Bandwidth(o.maxSpeed, o.maxHostSpeed);
  const httpProxy = Boolean(o.proxy || o.env.HTTP_PROXY || o.env.http_proxy);
  return {
    destReal,
    lock,
    state,
    pool,
    dirs: new SafeDirs(destReal),
    writer: new SmallFileWriter(),
    budget: new BodyBudget(o.internal.writeShare),
    watchdog: o.timeoutMs > 0 ? new Watchdog(o.timeoutMs) : undefined,
    bandwidth: bandwidth.active ? bandwidth : undefined,
    lenient,
    requestPath: httpProxy
      ? (url) => (url.protocol === 'http:' && proxyOf(url.origin) ? withoutUserinfo(url) : url.pathname + url.search)
      : (url) => url.pathname + url.search,
    // An http:// proxy sees requests in absolute form: its own credentials go with each one.
    proxyAuth: httpProxy
      ? (url) => {
          if (url.protocol !== 'http:') return undefined;
          const p = proxyOf(url.origin);
          return p && (p.username || p.password) ? basicAuth(decodeURIComponent(p.username), decodeURIComponent(p.password)) : undefined;
        }
      : undefined,
  };
}

/** Closes everything, in reverse order; never throws. */
export async function closeResources(r: Resources): Promise<void> {
  await r.pool.close().catch(() => undefined);
  await r.writer.close().catch(() => undefined);
  await r.state.close().catch(() => undefined);
  r.lock.release();
}

/**
 * For a process that must end at once (a second Ctrl-C): what a later run needs is written now,
 * synchronously -- the state log's buffered records (for --if-exists update and resume) -- and
 * the lock goes with the process instead of waiting to be found dead.
 */
export function releaseNow(r: Resources): void {
  r.state.flush();
  r.lock.release();
}
