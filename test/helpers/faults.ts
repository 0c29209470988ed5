// A fault-injecting HTTP server: per path, a script of answers for successive requests, so a test
// can say "reset, then a body cut short, then 503, then the file" and check what the client did.
// Every request is recorded (arrival time, headers, what was answered, body bytes sent).
//
// Bodies are deterministic (bodyFor), with a strong ETag and a Last-Modified, and the normal answer
// honours If-None-Match / If-Modified-Since (304) and Range guarded by If-Range (206), so resume
// and --if-exists update can be tested against it. `change()` makes a path's file change on the
// server; `ignoreRange` makes it answer 200 to every Range request.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { bodyFor, sleep } from './server.js';
import { TEST_CERT, TEST_KEY } from './tls.js';

export type Fault =
  /** That status. 200 is the normal answer (conditionals and ranges honoured). */
  | number
  | { status: number; retryAfter?: string; location?: string; headers?: Record<string, string> }
  /** The normal answer. */
  | 'ok'
  /** An RST before any byte of the answer. */
  | 'reset'
  /** Content-Length N, N/2 bytes of body, then the connection is closed. */
  | 'short'
  /** Nothing at all: the connection stays open and silent (a headers timeout). */
  | 'hang'
  /** Headers and half the body, then silence (a body idle timeout). */
  | 'stall'
  /** The normal answer, its body sent in 4 pieces spread over `slowMs` (each gap under the timeout). */
  | 'slowbody'
  /** Bytes that are not HTTP, then close (raw socket). */
  | 'garbage';

export interface RouteOptions {
  /** Body size for a generated body (default 1000). */
  size?: number;
  body?: Buffer;
  script?: Fault[];
  ignoreRange?: boolean;
  /** Paces 200/206 bodies: `bytes` every `everyMs`. */
  throttle?: { bytes: number; everyMs: number };
  /** Extra headers on 200/206 answers (Content-Disposition...). */
  headers?: Record<string, string>;
  /** Total time of a 'slowbody' answer (default 600 ms). */
  slowMs?: number;
  /** No Content-Length: the body is sent chunked (its size is known only at its end). */
  noLength?: boolean;
  /** A 206 names a Content-Range this many bytes off from the bytes it sends (a broken server). */
  shiftRange?: number;
}

export interface FaultRequest {
  at: number; // performance.now() at arrival
  wall: number; // Date.now() at arrival
  method: string;
  url: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** What was answered: a status number as text or a fault name. */
  answer: string;
  /** Body bytes written for this request. */
  sent: number;
}

export class Route {
  body: Buffer;
  etag: string;
  lastModified: string;
  script: Fault[];
  ignoreRange: boolean;
  throttle?: { bytes: number; everyMs: number };
  headers: Record<string, string>;
  slowMs: number;
  noLength: boolean;
  shiftRange: number;
  private version = 0;

  constructor(
    readonly path: string,
    o: RouteOptions,
  ) {
    this.body = o.body ?? bodyFor(path, o.size ?? 1000);
    this.etag = etagOf(this.body, 0);
    // Whole seconds, in the past: HTTP dates carry no finer resolution.
    this.lastModified = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000).toUTCString();
    this.script = [...(o.script ?? [])];
    this.ignoreRange = o.ignoreRange ?? false;
    this.throttle = o.throttle;
    this.headers = o.headers ?? {};
    this.slowMs = o.slowMs ?? 600;
    this.noLength = o.noLength ?? false;
    this.shiftRange = o.shiftRange ?? 0;
  }

  /** The file changes on the server: new bytes, new ETag, newer Last-Modified. */
  change(body?: Buffer): void {
    this.version++;
    this.body = body ?? bodyFor(`${this.path}#v${this.version}`, this.body.length);
    this.etag = etagOf(this.body, this.version);
    this.lastModified = new Date(Math.floor(Date.now() / 1000) * 1000).toUTCString();
  }

  sha256(): string {
    return createHash('sha256').update(this.body).digest('hex');
  }
}

function etagOf(body: Buffer, version: number): string {
  return `"${createHash('sha1').update(body).digest('hex').slice(0, 12)}-${version}"`;
}

export interface FaultServer {
  port: number;
  origin: string;
  url(path: string): string;
  route(path: string, o?: RouteOptions): Route;
  /** A plain answer for a path: a redirect, a status... answered every time (no script). */
  fixed(path: string, answer: Exclude<Fault, 'ok'>): void;
  requests: FaultRequest[];
  /** Requests for one path (query ignored). */
  hits(path: string): FaultRequest[];
  close(): Promise<void>;
}

/** `tls`: HTTPS with the self-signed test certificate (clients need -k). */
export async function startFaultServer(o: { tls?: boolean } = {}): Promise<FaultServer> {
  const routes = new Map<string, Route>();
  const fixed = new Map<string, Exclude<Fault, 'ok'>>();
  const requests: FaultRequest[] = [];
  const sockets = new Set<Socket>();
  let closed = false;

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    const rec: FaultRequest = {
      at: performance.now(),
      wall: Date.now(),
      method: req.method ?? 'GET',
      url,
      path,
      headers: req.headers,
      answer: '',
      sent: 0,
    };
    requests.push(rec);
    const route = routes.get(path);
    const fault: Fault | undefined = route ? (route.script.shift() ?? 'ok') : fixed.get(path);
    if (fault === undefined) {
      rec.answer = '404';
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such path\n');
      return;
    }
    answer(req, res, rec, route, fault).catch(() => res.destroy());
  };
  const server = o.tls ? https.createServer({ key: TEST_KEY, cert: TEST_CERT }, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 10_000;
  server.on('connection', (sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  });

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, rec: FaultRequest, route: Route | undefined, fault: Fault): Promise<void> {
    const sock = req.socket;
    if (typeof fault === 'number' && fault !== 200) fault = { status: fault };
    if (typeof fault === 'object') {
      rec.answer = String(fault.status);
      const h: Record<string, string> = { 'content-type': 'text/plain', ...fault.headers };
      if (fault.retryAfter !== undefined) h['retry-after'] = fault.retryAfter;
      if (fault.location !== undefined) h['location'] = fault.location;
      res.writeHead(fault.status, h);
      res.end(`status ${fault.status}\n`);
      return;
    }
    rec.answer = fault === 200 ? 'ok' : fault;
    switch (fault) {
      case 'reset':
        sock.resetAndDestroy();
        return;
      case 'hang':
        return; // the socket is destroyed by close()
      case 'garbage':
        sock.end('SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n');
        return;
    }
    if (!route) {
      rec.answer = '404';
      res.writeHead(404);
      res.end();
      return;
    }
    const h = req.headers;
    const validators = { etag: route.etag, 'last-modified': route.lastModified, 'accept-ranges': 'bytes' };
    // RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
    let notModified = false;
    if (h['if-none-match'] !== undefined) {
      notModified = h['if-none-match'].split(',').some((t) => t.trim().replace(/^W\//, '') === route.etag || t.trim() === '*');
    } else if (h['if-modified-since'] !== undefined) {
      const t = Date.parse(h['if-modified-since']);
      notModified = !Number.isNaN(t) && t >= Date.parse(route.lastModified);
    }
    if (notModified && (fault === 'ok' || fault === 200)) {
      rec.answer = '304';
      res.writeHead(304, validators);
      res.end();
      return;
    }
    const len = route.body.length;
    let start = 0;
    let end = len - 1;
    let partial = false;
    const range = h.range !== undefined ? /^bytes=(\d+)-(\d*)$/.exec(h.range) : null;
    if (range && !route.ignoreRange) {
      const ifRange = h['if-range'];
      const holds = ifRange === undefined || ifRange === route.etag || ifRange === route.lastModified;
      if (holds) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(len - 1, Number(range[2]));
        if (start >= len) {
          rec.answer = '416';
          res.writeHead(416, { 'content-range': `bytes */${len}`, ...validators });
          res.end();
          return;
        }
        partial = true;
      }
    }
    const body = route.body.subarray(start, end + 1);
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', ...validators, ...route.headers };
    if (!route.noLength) headers['content-length'] = body.length;
    const shift = route.shiftRange;
    if (partial) headers['content-range'] = `bytes ${start + shift}-${end + shift}/${len}`;
    const status = partial ? 206 : 200;
    if (fault === 'ok' || fault === 200) rec.answer = String(status);
    res.writeHead(status, headers);

    if (fault === 'short' || fault === 'stall') {
      const half = body.subarray(0, Math.floor(body.length / 2));
      res.write(half);
      rec.sent += half.length;
      if (fault === 'short') {
        // end() flushes what was written before the FIN.
        sock.once('finish', () => sock.destroy());
        sock.end();
      }
      return; // 'stall': silence until the client gives up
    }
    if (fault === 'slowbody') {
      const step = Math.ceil(body.length / 4);
      for (let i = 0; i < 4; i++) {
        if (res.destroyed || closed) return;
        const piece = body.subarray(i * step, (i + 1) * step);
        res.write(piece);
        rec.sent += piece.length;
        await sleep(route.slowMs / 4);
      }
      res.end();
      return;
    }
    if (route.throttle) {
      for (let off = 0; off < body.length; ) {
        if (res.destroyed || closed) return;
        // Read on every step: a test lifts the throttle to let a running download finish.
        const { bytes, everyMs } = route.throttle ?? { bytes: body.length, everyMs: 0 };
        const piece = body.subarray(off, off + bytes);
        off += piece.length;
        if (!res.write(piece)) {
          await new Promise<void>((r) => {
            const go = () => {
              res.off('drain', go).off('close', go);
              r();
            };
            res.on('drain', go).on('close', go);
          });
        }
        rec.sent += piece.length;
        await sleep(everyMs);
      }
      res.end();
      return;
    }
    rec.sent += body.length;
    res.end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    port,
    origin,
    url: (p) => origin + (p.startsWith('/') ? p : '/' + p),
    route(path, o = {}) {
      const r = new Route(path, o);
      routes.set(path, r);
      return r;
    },
    fixed(path, a) {
      fixed.set(path, a);
    },
    requests,
    hits: (p) => requests.filter((r) => r.path === p),
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
