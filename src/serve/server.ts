// The bundled flag server: the same flag files behind three behaviours (LOCAL, DELAY, ERROR), so
// bulkget can be shown and tested against a well-behaved, a slow and a faulty server with no network.

import { loadFlags, mulberry32 } from './flags.js';
import { ifRangeMatches, parseRange, weakMatch, type RangeResult } from './http.js';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowMs } from '../clock.js';

export type ServeMode = 'local' | 'delay' | 'error';

export interface FlagServerOptions {
  mode: ServeMode;
  /** 0 = a free port chosen by the system. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Delay mode: how long every answer waits, default 500. */
  delayMs?: number;
  /** Error mode: share of 200/206 answers replaced by a fault, default 0.25. */
  errorRate?: number;
  /** Error mode: PRNG seed, default 1. */
  seed?: number;
  /** One line per request when given. */
  log?: (line: string) => void;
}

export interface FlagServer {
  port: number;
  /** e.g. http://127.0.0.1:8001/flags */
  baseUrl: string;
  close(): Promise<void>;
}

type FaultKind = '500' | '503' | 'reset' | 'cut';

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, ' ');
}

const FLAG_PATH = /^\/flags\/([a-z]{2})\/([a-z]{2})\.gif$/;

function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

function listenErrorMessage(e: unknown, host: string, port: number): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `port ${port} is already in use (another bulkget serve?)`;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: address not available on this machine`;
  if (code === 'ENOTFOUND') return `cannot listen on ${where}: unknown host name`;
  return `cannot listen on ${where}: ${errorText(e)}`;
}

function urlHost(host: string): string {
  // A wildcard address is where the server listens, not where a client can reach it.
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startFlagServer(o: FlagServerOptions): Promise<FlagServer> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 0;
  const delayMs = o.delayMs ?? 500;
  const errorRate = o.errorRate ?? 0.25;
  const seed = o.seed ?? 1;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port} (0 to 65535)`);
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`invalid delay ${delayMs}ms (must be 0 or more)`);
  if (!(errorRate >= 0 && errorRate <= 1)) throw new RangeError(`invalid error rate ${errorRate} (0 to 1)`);

  // Loaded before listening, so a broken install fails at start and the first request is not slow.
  const flags = await loadFlags();
  const random = mulberry32(seed);
  const log = o.log;
  const pendingDelays = new Set<NodeJS.Timeout>();

  /** Draws this request's fault; one draw per 200/206-bound request keeps sequences reproducible. */
  function drawFault(): { kind: FaultKind; retryAfter: boolean } | null {
    if (o.mode !== 'error') return null;
    const r = random();
    if (r >= errorRate) return null;
    // Reuse the one draw to pick the kind evenly and, for 503, whether to send Retry-After.
    const u = (r / errorRate) * 4;
    const i = Math.min(3, Math.floor(u));
    const kind = (['500', '503', 'reset', 'cut'] as const)[i]!;
    return { kind, retryAfter: kind === '503' && u - i < 0.5 };
  }

  /** What one request's log line reports, filled in as the answer is decided. */
  interface Trace {
    status?: number;
    bytes: number;
    fault: string;
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse, trace: Trace): void {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';

    const sendText = (code: number, text: string, extra: http.OutgoingHttpHeaders = {}): void => {
      const body = Buffer.from(text);
      trace.status = code;
      res.writeHead(code, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
        ...extra,
      });
      if (method === 'HEAD') {
        res.end();
      } else {
        trace.bytes = body.length;
        res.end(body);
      }
    };

    const path = rawUrl.split('?', 1)[0]!;
    const m = FLAG_PATH.exec(path);
    const flag = m && m[1] === m[2] ? flags.get(m[1]!) : undefined;
    if (!flag) {
      sendText(404, '404 Not Found\n');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(405, '405 Method Not Allowed\n', { Allow: 'GET, HEAD' });
      return;
    }

    const validators = {
      ETag: flag.etag,
      'Last-Modified': flag.lastModified,
      'Cache-Control': 'no-cache',
      'Accept-Ranges': 'bytes',
    };

    // RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    let notModified = false;
    if (inm !== undefined) {
      notModified = weakMatch(inm, flag.etag);
    } else if (ims !== undefined) {
      const t = Date.parse(ims);
      notModified = !Number.isNaN(t) && t >= flag.lastModifiedMs;
    }
    if (notModified) {
      trace.status = 304;
      res.writeHead(304, validators);
      res.end();
      return;
    }

    const len = flag.body.length;
    let range: RangeResult = null;
    // Range is defined for GET only (RFC 9110 14.2); a HEAD gets the full headers.
    const rangeHeader = req.headers.range;
    if (method === 'GET' && rangeHeader !== undefined) {
      const ifRange = req.headers['if-range'];
      // Node leaves unknown headers typed as possibly repeated; a repeated If-Range is meaningless.
      const ifRangeText = Array.isArray(ifRange) ? ifRange.join(', ') : ifRange;
      if (ifRangeText === undefined || ifRangeMatches(ifRangeText, flag)) range = parseRange(rangeHeader, len);
    }
    if (range === 'unsatisfiable') {
      sendText(416, '416 Range Not Satisfiable\n', {
        'Content-Range': `bytes */${len}`,
        ETag: flag.etag,
        'Last-Modified': flag.lastModified,
        'Accept-Ranges': 'bytes',
      });
      return;
    }

    const fault = drawFault();
    if (fault) {
      trace.fault = fault.kind + (fault.retryAfter ? ' retry-after=1' : '');
      if (fault.kind === '500') {
        sendText(500, '500 Internal Server Error (simulated by bulkget serve)\n');
        return;
      }
      if (fault.kind === '503') {
        sendText(503, '503 Service Unavailable (simulated by bulkget serve)\n', fault.retryAfter ? { 'Retry-After': '1' } : {});
        return;
      }
      // A HEAD has no body to cut short, so its cut becomes a reset.
      if (fault.kind === 'reset' || method === 'HEAD') {
        trace.fault = 'reset';
        const sock = req.socket;
        // An RST, not a FIN, is what a crashed or overloaded peer looks like to a client.
        if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
        else sock.destroy();
        return;
      }
    }

    const part = range ? flag.body.subarray(range.start, range.end + 1) : flag.body;
    const status = range ? 206 : 200;
    trace.status = status;
    res.writeHead(status, {
      'Content-Type': 'image/gif',
      'Content-Length': part.length,
      ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${len}` } : {}),
      ...validators,
    });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    if (fault?.kind === 'cut') {
      // Promise the whole length, send about half, then close: the client must notice on its own.
      const half = part.subarray(0, Math.floor(part.length / 2));
      trace.bytes = half.length;
      if (half.length > 0) res.write(half);
      else res.flushHeaders();
      const sock = req.socket;
      // end() flushes what was written before the FIN; destroy afterwards frees the socket at once.
      sock.once('finish', () => sock.destroy());
      sock.end();
      return;
    }
    trace.bytes = part.length;
    res.end(part);
  }

  // Reached through getBuiltinModule, not an import: the CLI is one bundled file whose static
  // imports all load at start, and on Node 24 an ES import of node:http alone cost ~34 ms of
  // every run (its module facade reads the lazy getters that load Node's own fetch).
  const server = process.getBuiltinModule('node:http').createServer((req, res) => {
    const started = nowMs();
    const trace: Trace = { bytes: 0, fault: '' };
    if (log) {
      // 'close' fires for finished and aborted answers alike (a client gone during a delay
      // included), so every request logs exactly once; the time counts from arrival.
      res.once('close', () => {
        const ms = Math.round(nowMs() - started);
        const fault = trace.fault ? ` fault=${trace.fault}` : '';
        log(`${req.method ?? '-'} ${printable(req.url ?? '/')} ${trace.status ?? '-'} ${trace.bytes} ${ms}ms${fault}`);
      });
    }
    if (o.mode !== 'delay' || delayMs === 0) {
      handle(req, res, trace);
      return;
    }
    // A timer per request, so a slow answer never holds up the others.
    const timer = setTimeout(() => {
      pendingDelays.delete(timer);
      if (!res.destroyed) handle(req, res, trace);
    }, delayMs);
    pendingDelays.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      pendingDelays.delete(timer);
    });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: unknown): void => {
      server.off('listening', onListening);
      reject(new Error(listenErrorMessage(e, host, port)));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });

  const actualPort = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: actualPort,
    baseUrl: `http://${urlHost(host)}:${actualPort}/flags`,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const t of pendingDelays) clearTimeout(t);
        pendingDelays.clear();
        // The callback runs once the listener and every socket are gone; an error here only
        // means it was not listening any more, which is the state we want anyway.
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
