// How one slot's socket is made: directly, or through an HTTP proxy.
//
// Plain http targets go through a proxy in absolute form (`GET http://host/path`), the way curl
// and wget do, because many proxies allow CONNECT only to port 443. https targets are tunnelled
// with CONNECT and TLS is run end to end inside the tunnel. Either way the pool still counts the
// slot against the *target* endpoint, which is what --per-host promises.

import net, { type LookupFunction } from 'node:net';
import type tls from 'node:tls';
import type { buildConnector as BuildConnector } from 'undici';
import { buildConnector } from './undici.js';
import { foldRepeatedLengths } from './lenient.js';
import { extraTrust } from './trust.js';
import { largeReads } from './reads.js';
import { watchResets } from './resets.js';

/** Picks the proxy for a target: --proxy wins, else HTTP(S)_PROXY unless NO_PROXY matches. */
export function proxyFor(target: URL, explicit: string | undefined, env: Record<string, string | undefined>): URL | undefined {
  let raw = explicit;
  if (raw === undefined) {
    if (matchesNoProxy(target, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined;
    raw = target.protocol === 'https:'
      ? env.HTTPS_PROXY ?? env.https_proxy
      : env.HTTP_PROXY ?? env.http_proxy;
  }
  if (!raw) return undefined;
  try {
    return new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    return undefined;
  }
}

/** NO_PROXY: comma/space separated host names, domain suffixes (`.example.com` or `example.com`), `*`, optional `:port`. */
function matchesNoProxy(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.replace(/^\[|\]$/g, ''));
    if (m && m[2] && !entry.startsWith('[') && (entry.match(/:/g) ?? []).length === 1) {
      entry = m[1]!;
      entryPort = m[2];
    }
    if (entryPort && entryPort !== port) continue;
    const bare = entry.replace(/^\*?\./, '');
    if (host === bare || host.endsWith('.' + bare)) return true;
  }
  return false;
}

interface ConnectorOptions {
  origin: string;
  timeoutMs: number;
  insecure: boolean;
  proxy?: URL;
  /**
   * Whether this endpoint has sent a head undici's parser refused (a header repeated with the same
   * value): its new sockets get lenient heads (lenient.ts). Asked per connection, never per request:
   * every other endpoint pays nothing for it.
   */
  lenient: () => boolean;
  /** The run's DNS cache (dns.ts). */
  lookup?: LookupFunction;
  /** A PEM file of certificates to trust besides Node's roots (trust.ts). */
  extraCaCerts?: string;
  /** Told of each socket handed to undici (for closeSeen). */
  opened?: (socket: net.Socket) => void;
}

type Callback = (err: Error | null, socket: net.Socket | tls.TLSSocket | null) => void;

/** The `connect` option for an undici Client of one slot. */
export function makeConnector(o: ConnectorOptions): BuildConnector.connector {
  const target = new URL(o.origin);
  if (!o.proxy || target.protocol === 'http:') {
    // Direct, or absolute form to an http proxy (the Client's origin is then the proxy itself,
    // see clientOrigin): undici's own connector.
    // A socket that runs no TLS (an http endpoint, or an http proxy) reads up to 128 KiB at a time
    // into buffers of its own (reads.ts).
    const plain = clientOrigin(o.origin, o.proxy).startsWith('http:');
    const base = {
      timeout: o.timeoutMs,
      rejectUnauthorized: !o.insecure,
      ...(o.lookup ? { lookup: o.lookup } : {}),
      ...(plain ? { onread: largeReads } : {}),
    };
    // The extra certificates are read at this endpoint's first connection, not before.
    const trusted = o.extraCaCerts !== undefined && !o.insecure && target.protocol === 'https:';
    let connect: BuildConnector.connector | undefined = trusted ? undefined : buildConnector(base);
    return ((opts: BuildConnector.Options, callback: Callback) => {
      if (!connect) {
        const secureContext = extraTrust(o.extraCaCerts!);
        connect = buildConnector(secureContext ? { ...base, secureContext } : base);
      }
      return connect(opts, (err, socket) => {
        if (socket) handOver(socket as net.Socket, o);
        (callback as (e: Error | null, s: unknown) => void)(err, socket);
      });
    }) as unknown as BuildConnector.connector;
  }
  const proxy = o.proxy;
  return ((_opts: unknown, callback: Callback) => {
    tunnel(proxy, target, o, (err, socket) => {
      if (socket) handOver(socket, o);
      callback(err, socket);
    });
  }) as unknown as BuildConnector.connector;
}

function handOver(socket: net.Socket, o: ConnectorOptions): void {
  watchResets(socket);
  if (o.lenient()) foldRepeatedLengths(socket);
  o.opened?.(socket);
}

/**
 * Closes an idle Client so that the server has seen it go before the caller opens another socket
 * in its place: a server counting its open connections (SPEC: it never sees more than --limit)
 * counts one until it reads our FIN. Closing alone resolves when our side is closed, and the new
 * connection could reach the server first: with --limit 3, 300 URLs on one host each redirected
 * to another, a server counting both saw 4 at once in 2 of 5 runs. So the socket is half-closed
 * and the server's own FIN waited for (one round trip), `waitMs` at most.
 */
export function closeSeen(client: { close(): Promise<void> }, socket: net.Socket | undefined, waitMs: number): Promise<void> {
  if (!socket || socket.destroyed || !socket.writable) return client.close();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  }).then(() => client.close());
}

/** The origin the Client for `origin` actually dials. */
export function clientOrigin(origin: string, proxy: URL | undefined): string {
  if (proxy && origin.startsWith('http:')) return proxy.origin;
  return origin;
}

function tunnel(proxy: URL, target: URL, o: ConnectorOptions, callback: Callback): void {
  const port = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const targetPort = target.port || '443';
  let done = false;
  const finish = (err: Error | null, sock: net.Socket | tls.TLSSocket | null) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    callback(err, sock);
  };
  const raw = net.connect({ host: proxy.hostname, port });
  const timer = o.timeoutMs > 0 ? setTimeout(() => {
    raw.destroy();
    finish(Object.assign(new Error('connect timeout (proxy)'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), null);
  }, o.timeoutMs) : undefined;
  raw.once('error', (err) => finish(err, null));
  raw.once('connect', () => {
    const auth = proxy.username
      ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`
      : '';
    raw.write(`CONNECT ${target.hostname}:${targetPort} HTTP/1.1\r\nHost: ${target.hostname}:${targetPort}\r\n${auth}\r\n`);
  });
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 16384) {
        raw.destroy();
        finish(new Error('proxy sent an oversized CONNECT answer'), null);
      }
      return;
    }
    raw.removeListener('data', onData);
    const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
    const status = Number(statusLine.split(' ')[1]);
    if (status !== 200) {
      raw.destroy();
      finish(new Error(`proxy refused the tunnel: ${statusLine}`), null);
      return;
    }
    const rest = head.subarray(end + 4);
    if (rest.length) raw.unshift(rest);
    // Loaded at the first tunnel, not at start: node:tls costs ~9 ms of every run's start on Node 24.
    const secure = process.getBuiltinModule('node:tls').connect({
      socket: raw,
      servername: net.isIP(target.hostname) ? undefined : target.hostname,
      rejectUnauthorized: !o.insecure,
      ALPNProtocols: ['http/1.1'],
      ...(o.extraCaCerts !== undefined && !o.insecure ? { secureContext: extraTrust(o.extraCaCerts) } : {}),
    });
    secure.once('secureConnect', () => finish(null, secure));
    secure.once('error', (err) => finish(err, null));
  };
  raw.on('data', onData);
}
