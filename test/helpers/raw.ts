// A fault server on raw sockets: every byte the client sees is written here by hand, so a test
// can send exactly what a broken server on the internet sends -- a Content-Length and then a FIN
// halfway through the body, an RST mid-body, a chunked body that stops before its last chunk,
// a header given twice, `102 Processing` heads that never end, a body that trickles -- without
// node:http tidying any of it up.
//
// Each path has a script of actions, one per request (then 'ok' for ever). Requests are parsed
// just enough (request line and headers; GET has no body) and recorded with the connection
// they came on. Connections are counted (open now, peak).

import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { bodyFor } from './server.js';

export interface RawRequest {
  method: string;
  target: string;
  path: string;
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Record<string, string>;
  /** The request head as received. */
  head: string;
  conn: number;
  at: number;
}

/** What the server does with one request. */
export type RawAction =
  /** The normal answer: Range guarded by If-Range, 304 on a matching condition. */
  | 'ok'
  /** Headers of the whole answer (or the 206), then `bytes` of the body, then FIN or RST. */
  | { cut: number; how: 'fin' | 'rst'; connectionClose?: boolean }
  /** A chunked body that stops after `bytes` (whole chunks), then FIN. */
  | { chunkedCut: number }
  /** The head, then the body one byte every `everyMs`. */
  | { trickle: number }
  /** The head and `bytes` of the body, then silence with the connection open. */
  | { stall: number }
  /** `count` interim heads (`102 Processing`) `everyMs` apart, then the normal answer. */
  | { interim: number; everyMs: number }
  /** These exact bytes, then FIN (`end`), RST or nothing (`keep`). */
  | { raw: string | Buffer; then?: 'end' | 'rst' | 'keep' }
  /** A plain status with optional headers and a short body. */
  | { status: number; headers?: Record<string, string>; body?: string }
  /** Nothing: the connection stays open and silent. */
  | 'hang';

export interface RawFile {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  /** Extra header lines on 200/206 answers, written as given. */
  extra?: string[];
  script: RawAction[];
}

export interface RawServer {
  port: number;
  origin: string;
  url(path: string): string;
  /** Serves `path`; options default to a 1000-byte body with a strong ETag and a Last-Modified. */
  file(path: string, o?: Partial<RawFile> & { size?: number }): RawFile;
  requests: RawRequest[];
  hits(path: string): RawRequest[];
  conns: { open: number; peak: number; accepted: number };
  close(): Promise<void>;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `shared`: a counter of open connections across several servers (a run's total). */
export async function startRawServer(o: { shared?: { open: number; peak: number } } = {}): Promise<RawServer> {
  const files = new Map<string, RawFile>();
  const requests: RawRequest[] = [];
  const conns = { open: 0, peak: 0, accepted: 0 };
  const shared = o.shared;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  const server = net.createServer((sock) => {
    const conn = ++conns.accepted;
    sockets.add(sock);
    // Counted open from the end of this loop turn, and gone once the client's FIN or RST is read
    // ('end', 'error'), not at 'close': a client that closes one socket and opens the next sends
    // the FIN first, but the server may see the new connection in the same turn before reading
    // that FIN, and would count both.
    let state: 'new' | 'open' | 'gone' = 'new';
    setImmediate(() => {
      if (state !== 'new') return;
      state = 'open';
      conns.open++;
      conns.peak = Math.max(conns.peak, conns.open);
      if (shared) {
        shared.open++;
        shared.peak = Math.max(shared.peak, shared.open);
      }
    });
    const gone = () => {
      const was = state;
      state = 'gone';
      if (was !== 'open') return;
      conns.open--;
      if (shared) shared.open--;
    };
    // A reset the server sends ends the connection at once; 'close' follows a loop turn later.
    const reset = sock.resetAndDestroy.bind(sock);
    sock.resetAndDestroy = () => {
      gone();
      return reset();
    };
    sock.on('error', gone);
    sock.once('end', gone);
    // A close the server began (a fault ending in FIN) is over for the count once the FIN is sent:
    // the client closes its side when it reads it, which the server sees only later.
    sock.once('finish', gone);
    sock.once('close', () => {
      gone();
      sockets.delete(sock);
    });
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const lines = head.split('\r\n');
        const [method = '', target = ''] = lines[0]!.split(' ');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        let path = target;
        if (/^https?:\/\//.test(path)) path = new URL(path).pathname + new URL(path).search;
        path = path.split('?', 1)[0]!;
        const req: RawRequest = { method, target, path, headers, head, conn, at: performance.now() };
        requests.push(req);
        answer(sock, req);
      }
    });
  });

  function answer(sock: net.Socket, req: RawRequest): void {
    const f = files.get(req.path);
    if (!f) {
      sock.write('HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n');
      return;
    }
    const action = f.script.shift() ?? 'ok';
    if (action === 'hang') return;
    if (action === 'ok') return normal(sock, req, f);
    if ('raw' in action) {
      sock.write(action.raw);
      if (action.then === 'rst') later(() => sock.resetAndDestroy(), 30);
      else if (action.then !== 'keep') sock.end();
      return;
    }
    if ('status' in action) {
      const body = action.body ?? `status ${action.status}\n`;
      const extra = Object.entries(action.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(`HTTP/1.1 ${action.status} X\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    if ('interim' in action) {
      let n = 0;
      const tick = () => {
        if (sock.destroyed) return;
        if (n++ < action.interim) {
          sock.write('HTTP/1.1 102 Processing\r\n\r\n');
          later(tick, action.everyMs);
        } else normal(sock, req, f);
      };
      tick();
      return;
    }
    const { status, head, body } = plan(req, f);
    if ('cut' in action) {
      const close = action.connectionClose ? 'Connection: close\r\n' : '';
      sock.write(`${head.replace(/\r\n\r\n$/, '\r\n')}${close}\r\n`);
      sock.write(body.subarray(0, action.cut));
      // A moment later, so the bytes and the FIN or RST arrive as separate events, as they do
      // from a server that dies mid-write.
      later(() => (action.how === 'rst' ? sock.resetAndDestroy() : sock.end()), 30);
      return;
    }
    if ('chunkedCut' in action) {
      const h = head.replace(/Content-Length: \d+\r\n/i, 'Transfer-Encoding: chunked\r\n');
      sock.write(h);
      const part = body.subarray(0, action.chunkedCut);
      sock.write(`${part.length.toString(16)}\r\n`);
      sock.write(part);
      sock.write('\r\n');
      later(() => sock.end(), 30);
      return;
    }
    if ('stall' in action) {
      sock.write(head);
      sock.write(body.subarray(0, action.stall));
      return;
    }
    if ('trickle' in action) {
      sock.write(head);
      let i = 0;
      const tick = () => {
        if (sock.destroyed || i >= body.length) return;
        sock.write(body.subarray(i, i + 1));
        i++;
        later(tick, action.trickle);
      };
      tick();
      return;
    }
    void status;
  }

  /** The normal answer's status, head and body for a request (Range, If-Range, conditions). */
  function plan(req: RawRequest, f: RawFile): { status: number; head: string; body: Buffer } {
    const validators =
      (f.etag ? `ETag: ${f.etag}\r\n` : '') + (f.lastModified ? `Last-Modified: ${f.lastModified}\r\n` : '');
    const extra = (f.extra ?? []).map((l) => l + '\r\n').join('');
    const len = f.body.length;
    const range = req.headers['range'] ? /^bytes=(\d+)-$/.exec(req.headers['range']) : null;
    const ifRange = req.headers['if-range'];
    const holds = ifRange === undefined || ifRange === f.etag || ifRange === f.lastModified;
    if (range && holds && Number(range[1]) < len) {
      const from = Number(range[1]);
      const body = f.body.subarray(from);
      return {
        status: 206,
        head: `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nContent-Range: bytes ${from}-${len - 1}/${len}\r\n${validators}${extra}\r\n`,
        body,
      };
    }
    return { status: 200, head: `HTTP/1.1 200 OK\r\nContent-Length: ${len}\r\n${validators}${extra}\r\n`, body: f.body };
  }

  function normal(sock: net.Socket, req: RawRequest, f: RawFile): void {
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && f.etag && inm === f.etag) {
      sock.write(`HTTP/1.1 304 Not Modified\r\nETag: ${f.etag}\r\n\r\n`);
      return;
    }
    const { head, body } = plan(req, f);
    if (f.chunked) {
      sock.write(head.replace(/Content-Length: \d+\r\n/i, 'Transfer-Encoding: chunked\r\n'));
      if (body.length > 0) {
        sock.write(`${body.length.toString(16)}\r\n`);
        sock.write(body);
        sock.write('\r\n');
      }
      sock.write('0\r\n\r\n');
      return;
    }
    sock.write(head);
    sock.write(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    url: (p) => origin + (p.startsWith('/') ? p : '/' + p),
    file(path, o = {}) {
      const body = o.body ?? bodyFor(path, o.size ?? 1000);
      const f: RawFile = {
        body,
        etag: 'etag' in o ? o.etag : `"${sha256(body).slice(0, 16)}"`,
        lastModified: 'lastModified' in o ? o.lastModified : 'Wed, 21 Oct 2015 07:28:00 GMT',
        chunked: o.chunked,
        extra: o.extra,
        script: [...(o.script ?? [])],
      };
      files.set(path, f);
      return f;
    },
    requests,
    hits: (p) => requests.filter((r) => r.path === p),
    conns,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
