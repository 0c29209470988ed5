// A test HTTP server that counts what a client really does: open connections (now and at peak,
// per server and across a group), requests with their arrival times and headers.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Counter {
  open: number;
  peak: number;
}

export interface RequestRecord {
  at: number; // performance.now()
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  port: number;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, server: TestServer) => void | Promise<void>;

export interface TestServer {
  port: number;
  origin: string;
  url(path: string): string;
  conns: Counter;
  requests: RequestRecord[];
  /** Connections accepted over the server's life. */
  accepted: number;
  close(): Promise<void>;
}

/** Deterministic body bytes for a name, so files can be checked without storing them. */
export function bodyFor(name: string, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let x = 2166136261;
  for (let i = 0; i < name.length; i++) x = Math.imul(x ^ name.charCodeAt(i), 16777619);
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

/**
 * Default routes:
 *   /file/NAME?size=N&delay=MS       N deterministic bytes after MS ms
 *   /slow/NAME?size=N&ms=MS          N bytes spread over MS ms (the body is what is slow)
 *   /status/CODE                     that status with a short body
 */
export const defaultHandler: Handler = async (req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  const parts = u.pathname.split('/').filter(Boolean);
  const size = Number(u.searchParams.get('size') ?? 1000);
  if (parts[0] === 'file') {
    const delay = Number(u.searchParams.get('delay') ?? 0);
    if (delay > 0) await sleep(delay);
    const body = bodyFor(parts.slice(1).join('/'), size);
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(body);
    return;
  }
  if (parts[0] === 'slow') {
    const ms = Number(u.searchParams.get('ms') ?? 200);
    const body = bodyFor(parts.slice(1).join('/'), size);
    res.writeHead(200, { 'content-length': body.length });
    const steps = 4;
    const step = Math.ceil(body.length / steps);
    for (let i = 0; i < steps; i++) {
      res.write(body.subarray(i * step, (i + 1) * step));
      await sleep(ms / steps);
    }
    res.end();
    return;
  }
  if (parts[0] === 'status') {
    res.writeHead(Number(parts[1]), { 'content-type': 'text/plain' });
    res.end(`status ${parts[1]}\n`);
    return;
  }
  res.writeHead(404);
  res.end('no such route\n');
};

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startServer(opts: { handler?: Handler; group?: Counter } = {}): Promise<TestServer> {
  const handler = opts.handler ?? defaultHandler;
  const conns: Counter = { open: 0, peak: 0 };
  const requests: RequestRecord[] = [];
  const sockets = new Set<import('node:net').Socket>();
  let self!: TestServer;
  const server = http.createServer((req, res) => {
    requests.push({ at: performance.now(), method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, port: self.port });
    Promise.resolve(handler(req, res, self)).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (sock) => {
    self.accepted++;
    sockets.add(sock);
    for (const c of [conns, opts.group]) {
      if (!c) continue;
      c.open++;
      if (c.open > c.peak) c.peak = c.open;
    }
    // Count a connection as gone once the peer has closed its side (FIN): that is the moment
    // the client let go of it, whatever the server still does with its own half.
    let gone = false;
    const leave = () => {
      if (gone) return;
      gone = true;
      sockets.delete(sock);
      for (const c of [conns, opts.group]) if (c) c.open--;
    };
    sock.once('end', leave);
    sock.once('close', leave);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  self = {
    port,
    origin: `http://127.0.0.1:${port}`,
    url: (path: string) => `http://127.0.0.1:${port}${path.startsWith('/') ? path : '/' + path}`,
    conns,
    requests,
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return self;
}
