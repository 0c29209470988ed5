// Network faults end to end through the library (one black-box CLI case stays): retries per
// fault kind, Retry-After, endpoint pauses, timeouts, final statuses, redirects and request
// headers, as a fault-injecting server sees them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { runWithReport } from './helpers/cli.js';
import { fetchAll } from './helpers/lib.js';
import type { DownloadOptions } from '../src/index.js';
import { startFaultServer, type FaultServer } from './helpers/faults.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('faults');


const run = (args: string[], stdin = '') => runWithReport(args, { stdin });
/** The list as the library takes it: one item per line. */
const get = (list: string, options: DownloadOptions) => fetchAll(list.split('\n').filter(Boolean), options);

async function server(t: { after: (fn: () => Promise<void>) => void }): Promise<FaultServer> {
  const s = await startFaultServer();
  t.after(() => s.close());
  return s;
}

test('each retryable fault, then success: every file correct, one retry each, counted in the report', async (t) => {
  const s = await server(t);
  const kinds = {
    reset: 'reset',
    short: 'short',
    hang: 'hang',
    stall: 'stall',
    s408: { status: 408, retryAfter: '0' },
    s425: { status: 425, retryAfter: '0' },
    s429: { status: 429, retryAfter: '0' },
    s500: { status: 500, retryAfter: '0' },
    s502: { status: 502, retryAfter: '0' },
    s503: { status: 503, retryAfter: '0' },
    s504: { status: 504, retryAfter: '0' },
  } as const;
  const routes = Object.entries(kinds).map(([name, fault]) => s.route(`/${name}.bin`, { size: 3000, script: [fault] }));
  const dest = tmp();
  const r = await get(routes.map((x) => s.url(x.path)).join('\n'), { dest, timeout: 1000, retryDelay: 50 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(r.summary.counts.downloaded, routes.length);
  assert.equal(r.summary.retries, routes.length);
  for (const route of routes) {
    assert.equal(s.hits(route.path).length, 2, route.path);
    assert.deepEqual(readFileSync(path.join(dest, route.path.slice(1))), route.body, route.path);
  }
  assert.deepEqual(readdirSync(dest).filter((f) => f.endsWith('.part')), []);
});

test('several faults in a row on one item: reset, short, 503, then the file (-r 3)', async (t) => {
  const s = await server(t);
  const route = s.route('/row.bin', { size: 50_000, script: ['reset', 'short', { status: 503, retryAfter: '0' }] });
  const dest = tmp();
  const r = await get(s.url('/row.bin'), { dest, retries: 3, retryDelay: 50 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(r.summary.retries, 3);
  // The bytes of the answer cut short are kept: the last attempt asks only for the rest.
  assert.deepEqual(s.hits('/row.bin').map((h) => h.answer), ['reset', 'short', '503', '206']);
  assert.deepEqual(readFileSync(path.join(dest, 'row.bin')), route.body);
});

test('--retries 0: a 503 fails at once with exit 1, and the report says why', async (t) => {
  const s = await server(t);
  s.route('/once.bin', { script: [503] });
  const dest = tmp();
  const r = await get(s.url('/once.bin'), { dest, retries: 0 });
  assert.equal(r.code, 1);
  assert.equal(s.hits('/once.bin').length, 1);
  assert.equal(r.summary.retries, 0);
  assert.equal(r.summary.counts.failed, 1);
  assert.equal(r.summary.failures.length, 1);
  const f = r.summary.failures[0]!;
  assert.equal(f.kind, 'failed');
  assert.equal(f.status, 503);
  assert.equal(f.attempts, 1);
  assert.match(f.error, /503/);
  assert.ok(!existsSync(path.join(dest, 'once.bin')));
});

test('retries run out: -r 2 makes 3 attempts, then the item fails with the last reason', async (t) => {
  const s = await server(t);
  const ra = { status: 500, retryAfter: '0' };
  s.route('/bad.bin', { script: [ra, ra, ra, ra] });
  const r = await get(s.url('/bad.bin'), { dest: tmp(), retries: 2 });
  assert.equal(r.code, 1);
  assert.equal(s.hits('/bad.bin').length, 3);
  assert.equal(r.summary.retries, 2);
  assert.equal(r.summary.failures[0]!.attempts, 3);
  assert.match(r.summary.failures[0]!.error, /500/);
});

test('a body cut short fails saying how far it got: bytes received of Content-Length, and why', async (t) => {
  const s = await server(t);
  s.route('/cut.bin', { size: 10_000, script: ['short'] });
  const r = await get(s.url('/cut.bin'), { dest: tmp(), retries: 0 });
  assert.equal(r.code, 1);
  const hit = s.hits('/cut.bin')[0]!;
  assert.match(r.summary.failures[0]!.error, new RegExp(`^body cut short after \\d+ of 10000 bytes: connection `));
  const got = Number(/after (\d+) of/.exec(r.summary.failures[0]!.error)?.[1]);
  assert.ok(got > 0 && got <= hit.sent, `${got} reported, ${hit.sent} sent`);
});

test('a refused connection is retried, then fails with one line and exit 1', async () => {
  // A port that was just closed, on a loopback address no other test listens on: on 127.0.0.1
  // a server of a test running in parallel could take the port in between and answer.
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.2', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const r = await get(`http://127.0.0.2:${port}/x.bin`, { dest: tmp(), retries: 1, retryDelay: 50 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.retries, 1);
  assert.equal(r.summary.failures[0]!.attempts, 2);
  assert.equal(r.summary.failures[0]!.status, null);
  assert.match(r.summary.failures[0]!.error, /connection refused/);
});

test('Retry-After: 1 is respected: the retry does not come sooner', async (t) => {
  const s = await server(t);
  const route = s.route('/ra.bin', { script: [{ status: 503, retryAfter: '1' }] });
  const dest = tmp();
  const r = await get(s.url('/ra.bin'), { dest });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const [first, second] = s.hits('/ra.bin');
  assert.ok(second, 'retried');
  // A timer may round a millisecond either way; the retry must not come meaningfully sooner.
  assert.ok(second.at - first!.at >= 995, `retry came after ${Math.round(second.at - first!.at)} ms`);
  assert.deepEqual(readFileSync(path.join(dest, 'ra.bin')), route.body);
  assert.equal(r.summary.retries, 1);
});

test('Retry-After as an HTTP-date is respected', async (t) => {
  const s = await server(t);
  const until = new Date(Date.now() + 2000).toUTCString();
  s.route('/date.bin', { script: [{ status: 429, retryAfter: until }] });
  const r = await get(s.url('/date.bin'), { dest: tmp() });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hits = s.hits('/date.bin');
  assert.equal(hits.length, 2);
  assert.ok(hits[1]!.wall >= Date.parse(until) - 5, `retried ${Date.parse(until) - hits[1]!.wall} ms before the date`);
});

test('a Retry-After above --max-retry-wait fails the item at once, saying so', async (t) => {
  const s = await server(t);
  s.route('/later.bin', { script: [{ status: 503, retryAfter: '120' }] });
  const r = await get(s.url('/later.bin'), { dest: tmp(), maxRetryWait: 5000 });
  assert.equal(r.code, 1);
  assert.equal(s.hits('/later.bin').length, 1);
  assert.equal(r.summary.retries, 0);
  assert.match(r.summary.failures[0]!.error, /retry after 120s.*--max-retry-wait/);
});

test('a 429 with Retry-After pauses the whole endpoint; the waiting retry holds no slot; other hosts go on', async (t) => {
  const s = await server(t);
  const other = await server(t);
  s.route('/a.bin', { script: [{ status: 429, retryAfter: '1' }] });
  s.route('/b.bin');
  other.route('/c.bin');
  const dest = tmp();
  // -l 1: the one slot is free while a.bin waits for its retry, and another host may use it.
  const r = await get([s.url('/a.bin'), s.url('/b.bin'), other.url('/c.bin')].join('\n'), { dest, limit: 1 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const a = s.hits('/a.bin');
  const b = s.hits('/b.bin');
  const c = other.hits('/c.bin');
  assert.equal(a.length, 2);
  assert.equal(b.length, 1);
  assert.ok(b[0]!.at - a[0]!.at >= 995, `b was requested ${Math.round(b[0]!.at - a[0]!.at)} ms after the 429`);
  assert.ok(a[1]!.at - a[0]!.at >= 995);
  // The other endpoint is not paused.
  assert.ok(c[0]!.at < a[0]!.at + 900, 'another host is served during the pause');
});

test('a 429 pause on the last attempt still lets the items queued behind it run afterwards', { timeout: 20_000 }, async (t) => {
  const s = await server(t);
  s.route('/last.bin', { script: [{ status: 429, retryAfter: '1' }] });
  const next = s.route('/next.bin');
  const dest = tmp();
  // -p 1: next.bin waits for the endpoint's one slot; last.bin gives up at once (-r 0).
  const r = await get([s.url('/last.bin'), s.url('/next.bin')].join('\n'), { dest, perHost: 1, retries: 0 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.failed, 1);
  assert.equal(r.summary.counts.downloaded, 1, 'next.bin was not left behind');
  assert.deepEqual(readFileSync(path.join(dest, 'next.bin')), next.body);
  const gap = s.hits('/next.bin')[0]!.at - s.hits('/last.bin')[0]!.at;
  assert.ok(gap >= 995, `next.bin came ${Math.round(gap)} ms after the 429`);
});

test('--timeout is an idle timeout: a silent server fails, a slow but live body succeeds, queue time does not count', async (t) => {
  const s = await server(t);
  s.route('/hang.bin', { script: ['hang'] });
  s.route('/stall.bin', { script: ['stall'] });
  const slow = s.route('/slow.bin', { size: 4000, script: ['slowbody'], slowMs: 2000 });
  const queued = s.route('/queued.bin', { size: 100 });
  const dest = tmp();
  // -p 1: queued.bin waits behind slow.bin (about 2 s) for its slot; that wait is not a timeout.
  const r = await get(['/hang.bin', '/stall.bin', '/slow.bin', '/queued.bin'].map((p) => s.url(p)).join('\n'), { dest, retries: 0, perHost: 1, timeout: 1000 });
  assert.equal(r.code, 1);
  const errors = Object.fromEntries(r.summary.failures.map((f) => [new URL(f.url).pathname, f.error]));
  assert.deepEqual(Object.keys(errors).sort(), ['/hang.bin', '/stall.bin']);
  assert.match(errors['/hang.bin']!, /timed out/);
  assert.match(errors['/stall.bin']!, /timed out/);
  assert.ok(!existsSync(path.join(dest, 'hang.bin')));
  assert.ok(!existsSync(path.join(dest, 'stall.bin')), 'no truncated file under the final name');
  assert.deepEqual(readFileSync(path.join(dest, 'slow.bin')), slow.body);
  assert.deepEqual(readFileSync(path.join(dest, 'queued.bin')), queued.body);
  assert.ok(s.hits('/queued.bin')[0]!.at - s.hits('/slow.bin')[0]!.at > 1000, 'queued.bin really waited');
});

test('404 is notFound, 403 is final: no retry, exit 1', async (t) => {
  const s = await server(t);
  s.route('/forbidden.bin', { script: [403] });
  const r = await get([s.url('/missing.bin'), s.url('/forbidden.bin')].join('\n'), { dest: tmp(), retries: 3 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.notFound, 1);
  assert.equal(r.summary.counts.failed, 1);
  assert.equal(r.summary.retries, 0);
  assert.equal(s.hits('/missing.bin').length, 1);
  assert.equal(s.hits('/forbidden.bin').length, 1);
  const nf = r.summary.failures.find((f) => f.kind === 'notFound')!;
  assert.equal(nf.status, 404);
});

test('redirects: a chain is followed (named after the URL as given), loops, non-http and too many fail', async (t) => {
  const s = await server(t);
  const other = await server(t);
  s.fixed('/r1', { status: 301, location: '/r2' });
  s.fixed('/r2', { status: 302, location: other.url('/r3') });
  other.fixed('/r3', { status: 307, location: s.url('/final.bin') });
  const fin = s.route('/final.bin');
  s.fixed('/loop1', { status: 302, location: '/loop2' });
  s.fixed('/loop2', { status: 308, location: '/loop1' });
  s.fixed('/ftp', { status: 302, location: 'ftp://example.com/x' });
  s.fixed('/file', { status: 302, location: 'file:///etc/passwd' });
  for (let i = 0; i < 5; i++) s.fixed(`/hop${i}`, { status: 302, location: `/hop${i + 1}` });
  s.route('/hop5');
  const dest = tmp();
  const urls = ['/r1', '/loop1', '/ftp', '/file', '/hop0'].map((p) => s.url(p));
  const r = await get(urls.join('\n'), { dest, maxRedirects: 3 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.downloaded, 1);
  assert.deepEqual(readFileSync(path.join(dest, 'r1')), fin.body);
  const errors = Object.fromEntries(r.summary.failures.map((f) => [new URL(f.url).pathname, f.error]));
  assert.match(errors['/loop1']!, /loop/);
  assert.match(errors['/ftp']!, /ftp:/);
  assert.match(errors['/file']!, /file:/);
  assert.match(errors['/hop0']!, /too many redirects/);
  assert.equal(s.hits('/hop4').length, 0, 'no hop past --max-redirects');
  assert.equal(s.hits('/loop1').length, 1);
  assert.equal(s.hits('/loop2').length, 1);
  assert.deepEqual(readdirSync(dest).sort(), ['.bulkget', 'r1']);
});

test('-H and -A reach the server, on every attempt', async (t) => {
  const s = await server(t);
  s.route('/h.bin', { script: [{ status: 503, retryAfter: '0' }] });
  const r = await get(s.url('/h.bin'), { dest: tmp(), userAgent: 'probe/2.0', headers: { 'X-Token': 's3cret', 'Accept': 'image/*' } });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hits = s.hits('/h.bin');
  assert.equal(hits.length, 2);
  for (const h of hits) {
    assert.equal(h.headers['x-token'], 's3cret');
    assert.equal(h.headers['accept'], 'image/*');
    assert.equal(h.headers['user-agent'], 'probe/2.0');
  }
});

test('the default User-Agent is bulkget/VERSION', async (t) => {
  const s = await server(t);
  s.route('/ua.bin');
  const r = await get(s.url('/ua.bin'), { dest: tmp() });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  assert.equal(s.hits('/ua.bin')[0]!.headers['user-agent'], `bulkget/${version}`);
});

for (const [label, size] of [['a big file', 3 << 20], ['a mid-sized file (written as it comes, no record before its first byte)', 300_000], ['a small file (gathered in memory)', 100_000]] as const) test(`a body cut short on ${label} is continued within the run with Range + If-Range`, async (t) => {
  const s = await server(t);
  const route = s.route('/cut.bin', { size, script: ['short'] });
  const dest = tmp();
  const r = await get(s.url('/cut.bin'), { dest, retryDelay: 50 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const [first, second] = s.hits('/cut.bin');
  assert.equal(first!.answer, 'short');
  // It continues from what reached the .part: at most what the server sent (a client may lose
  // the last bytes in flight when the connection dies), and more than nothing.
  const from = Number(/^bytes=(\d+)-$/.exec(second!.headers.range ?? '')?.[1]);
  assert.ok(from > 0 && from <= first!.sent, `range ${second!.headers.range}, ${first!.sent} sent`);
  assert.equal(second!.headers['if-range'], route.etag);
  assert.equal(second!.answer, '206');
  assert.deepEqual(readFileSync(path.join(dest, 'cut.bin')), route.body);
  assert.equal(r.summary.bytes, size, 'no byte was fetched twice');
});

test('--connect-timeout: a server that accepts but never finishes the TLS handshake', async (t) => {
  const silent = net.createServer(() => undefined);
  const sockets = new Set<net.Socket>();
  silent.on('connection', (sock) => sockets.add(sock));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const sock of sockets) sock.destroy();
    silent.close();
  });
  const port = (silent.address() as net.AddressInfo).port;
  const r = await get(`https://127.0.0.1:${port}/x.bin`, { dest: tmp(), retries: 0, connectTimeout: 1000, timeout: 30_000 });
  assert.equal(r.code, 1);
  assert.match(r.summary.failures[0]!.error, /connect timeout/);
});

test('--rate N: requests to one endpoint start at least 1/N s apart; another endpoint is not slowed', async (t) => {
  const s = await server(t);
  const other = await server(t);
  const names = ['r0', 'r1', 'r2', 'r3', 'r4'];
  for (const n of names) s.route(`/${n}.bin`, { size: 100 });
  for (const n of names) other.route(`/${n}.bin`, { size: 100 });
  const r = await get([...names.map((n) => s.url(`/${n}.bin`)), ...names.map((n) => `${other.url(`/${n}.bin`)} other/${n}.bin`)].join('\n'), { dest: tmp(), rate: 5 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  for (const srv of [s, other]) {
    const times = srv.requests.map((x) => x.at).sort((a, b) => a - b);
    assert.equal(times.length, 5);
    // Starts are spaced by the client. The server sees the first one late by its connection
    // setup (tens of ms on a loaded machine), so only the later gaps are held to 200 ms, give
    // or take timer slack; the first must still be clearly spaced.
    assert.ok(times[1]! - times[0]! >= 100, `first gap ${Math.round(times[1]! - times[0]!)} ms`);
    for (let i = 2; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 175, `gap ${Math.round(times[i]! - times[i - 1]!)} ms`);
    assert.ok(times[4]! - times[1]! >= 570, `4 requests within ${Math.round(times[4]! - times[1]!)} ms`);
  }
  // Both endpoints started at once rather than one after the other.
  assert.ok(Math.abs(s.requests[0]!.at - other.requests[0]!.at) < 150);
});

test('bytes are stored as sent: a gzip Content-Encoding is not decoded', async (t) => {
  const s = await server(t);
  const gz = gzipSync(Buffer.from('hello '.repeat(100)));
  s.route('/page.html.gz', { body: gz, headers: { 'content-encoding': 'gzip' } });
  const dest = tmp();
  const r = await get(s.url('/page.html.gz'), { dest });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.deepEqual(readFileSync(path.join(dest, 'page.html.gz')), gz);
});

test('a 304 to a request that had no condition is not "unchanged"', async (t) => {
  const s = await server(t);
  s.fixed('/odd304.bin', { status: 304 });
  const dest = tmp();
  const r = await get(s.url('/odd304.bin'), { dest, retries: 0 });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.unchanged, 0);
  assert.equal(r.summary.counts.failed, 1);
  assert.match(r.summary.failures[0]!.error, /304/);
});

test('an answer that is not HTTP fails the item with one line', async (t) => {
  const s = await server(t);
  s.route('/ssh.bin', { script: ['garbage', 'garbage', 'garbage', 'garbage'] });
  const r = await run(['-d', tmp(), '-r', '0', '-v'], s.url('/ssh.bin'));
  assert.equal(r.code, 1);
  assert.equal(r.report.counts.failed, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^\*\*\* Error for /);
});

test('an informational 103 before the answer is passed over: the file is the 200 body', async (t) => {
  // Servers may send 103 Early Hints ahead of the real head; only the final head decides.
  const body = Buffer.from('the real body\n'.repeat(50));
  const srv = net.createServer((sock) => {
    sock.once('data', () => {
      sock.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
      const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      setTimeout(() => sock.end(Buffer.concat([Buffer.from(head), body])), 20);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as net.AddressInfo).port;
  const dest = tmp();
  const r = await get(`http://127.0.0.1:${port}/hinted.txt`, { dest, retries: 0 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.deepEqual(readFileSync(path.join(dest, 'hinted.txt')), body);
});
