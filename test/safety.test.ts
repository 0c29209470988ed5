// Nothing is ever written outside DEST: hostile input paths, Content-Disposition names, symlinks
// and hard links planted in DEST. Also --layout tree, TLS verification and proxies.

import { test } from 'node:test';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startFaultServer, type FaultServer } from './helpers/faults.js';
import { StateStore } from '../src/store/state.js';
import { fetchAll, lines } from './helpers/lib.js';
import { partialOf, tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('safety');



async function server(t: { after: (fn: () => Promise<void>) => void }, tls = false): Promise<FaultServer> {
  const s = await startFaultServer({ tls });
  t.after(() => s.close());
  return s;
}

/** A temp root holding DEST and, beside it, a folder that must never change. */
function sandbox(t: { after: (fn: () => void) => void }): { root: string; dest: string; outside: string; check: () => void } {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'bulkget-safety-')));
  const dest = path.join(root, 'dest');
  const outside = path.join(root, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'victim.txt'), 'precious');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return {
    root,
    dest,
    outside,
    check: () => {
      assert.deepEqual(readdirSync(root).sort(), ['dest', 'outside'], 'nothing new beside DEST');
      assert.deepEqual(readdirSync(outside), ['victim.txt'], 'nothing new outside DEST');
      assert.equal(readFileSync(path.join(outside, 'victim.txt'), 'utf8'), 'precious', 'the outside file is untouched');
    },
  };
}

test('input paths that are absolute or climb out of DEST are invalid and never requested', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  const ok = s.route('/ok.bin');
  s.route('/evil.bin');
  const lines = [
    `${s.url('/evil.bin')} ../evil.bin`,
    `${s.url('/evil.bin')} ../outside/victim.txt`,
    `${s.url('/evil.bin')} /abs.bin`,
    `${s.url('/evil.bin')} ${path.join(sb.outside, 'victim.txt')}`,
    `${s.url('/evil.bin')} sub/../../evil.bin`,
    `${s.url('/evil.bin')} sub\\..\\..\\evil.bin`,
    `${s.url('/evil.bin')} .bulkget/lock`,
    JSON.stringify({ url: s.url('/evil.bin'), out: '../json-evil.bin' }),
    `${s.url('/ok.bin')} nested/ok.bin`,
  ];
  const r = await fetchAll(lines, { dest: sb.dest });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.invalid, 8);
  assert.equal(r.summary.counts.downloaded, 1);
  assert.equal(s.hits('/evil.bin').length, 0);
  assert.deepEqual(readFileSync(path.join(sb.dest, 'nested', 'ok.bin')), ok.body);
  sb.check();
});

test('hostile Content-Disposition names stay inside DEST', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  const cases: [string, string, string][] = [
    // [url path, Content-Disposition, expected name in DEST]
    ['/cd1', 'attachment; filename="../../evil.txt"', 'evil.txt'],
    ['/cd2', 'attachment; filename="/etc/x"', 'x'],
    ['/cd3', "attachment; filename*=UTF-8''..%2F..%2Fevil2.txt", 'evil2.txt'],
    ['/cd4', 'attachment; filename="C:\\\\evil\\\\win.txt"', 'win.txt'],
    ['/cd5', 'attachment; filename=".."', 'cd5'],
    ['/cd6', 'attachment; filename="con.txt"', '_con.txt'],
    ['/cd7', 'attachment; filename="tab\there.txt"', 'tab_here.txt'],
  ];
  const bodies = new Map<string, Buffer>();
  for (const [p, cd] of cases) bodies.set(p, s.route(p, { headers: { 'content-disposition': cd } }).body);
  const r = await fetchAll(lines(cases.map(([p]) => s.url(p)).join('\n')), { dest: sb.dest, contentDisposition: true });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures) + JSON.stringify(r.summary.failures));
  for (const [p, , name] of cases) assert.deepEqual(readFileSync(path.join(sb.dest, name)), bodies.get(p), `${p} -> ${name}`);
  assert.deepEqual(readdirSync(sb.dest).sort(), ['.bulkget', ...cases.map((c) => c[2])].sort());
  sb.check();
});

test('Content-Disposition names that collide get suffixes in completion order, never overwriting', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  // /report.pdf is named from its URL when read; /a, /b and /c all ask for the same name only
  // when their answers come. With one connection they complete in input order.
  const plain = s.route('/report.pdf', {});
  const named = ['/a', '/b', '/c'].map((p) => s.route(p, { headers: { 'content-disposition': 'attachment; filename="report.pdf"' } }));
  const urls = ['/report.pdf', '/a', '/b', '/c'].map((p) => s.url(p));
  const r = await fetchAll(lines(urls.join('\n')), { dest: sb.dest, contentDisposition: true, limit: 1 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures) + JSON.stringify(r.summary.failures));
  assert.deepEqual(readFileSync(path.join(sb.dest, 'report.pdf')), plain.body);
  assert.deepEqual(readFileSync(path.join(sb.dest, 'report-1.pdf')), named[0]!.body);
  assert.deepEqual(readFileSync(path.join(sb.dest, 'report-2.pdf')), named[1]!.body);
  assert.deepEqual(readFileSync(path.join(sb.dest, 'report-3.pdf')), named[2]!.body);
  assert.deepEqual(readdirSync(sb.dest).sort(), ['.bulkget', 'report-1.pdf', 'report-2.pdf', 'report-3.pdf', 'report.pdf']);

  // In parallel the order is the servers', but still four files, four distinct bodies, no loss.
  const dest2 = tmp();
  const r2 = await fetchAll(lines(urls.join('\n')), { dest: dest2, contentDisposition: true, limit: 4 });
  assert.equal(r2.code, 0, JSON.stringify(r2.summary.failures));
  const got = readdirSync(dest2).filter((f) => f !== '.bulkget').sort();
  assert.deepEqual(got, ['report-1.pdf', 'report-2.pdf', 'report-3.pdf', 'report.pdf']);
  const bodies = new Set(got.map((f) => readFileSync(path.join(dest2, f)).toString('hex')));
  assert.equal(bodies.size, 4);
  for (const route of [plain, ...named]) assert.ok(bodies.has(route.body.toString('hex')));
  sb.check();
});

test('a Content-Disposition or a URL naming .bulkget does not touch bulkget\'s records; the file still comes', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  const route = s.route('/records', { headers: { 'content-disposition': 'attachment; filename=".bulkget"' } });
  const r = await fetchAll(lines(s.url('/records')), { dest: sb.dest, contentDisposition: true });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.ok(lstatSync(path.join(sb.dest, '.bulkget')).isDirectory());
  assert.deepEqual(readdirSync(sb.dest).filter((f) => f !== '.bulkget'), ['_.bulkget']);
  assert.deepEqual(readFileSync(path.join(sb.dest, '_.bulkget')), route.body);
  // The last segment of the URL as the name (curl -O): the same rule, in flat and tree layout.
  const dot = s.route('/dir/.BulkGet', {});
  const flat = await fetchAll(lines(s.url('/dir/.BulkGet')), { dest: sb.dest });
  assert.equal(flat.code, 0, JSON.stringify(flat.summary.failures));
  assert.deepEqual(readFileSync(path.join(sb.dest, '_.BulkGet')), dot.body);
  assert.ok(lstatSync(path.join(sb.dest, '.bulkget', 'state.jsonl')).isFile(), 'the records are intact');
  sb.check();
});

test('--content-disposition renames only what the URL named: an output path given in the input stays (curl -o, wget -O), with --jobs too', async (t) => {
  const s = await server(t);
  const a = s.route('/a', { headers: { 'content-disposition': 'attachment; filename="server-a.bin"' } });
  const b = s.route('/b', { headers: { 'content-disposition': 'attachment; filename="server-b.bin"' } });
  for (const jobs of [1, 2]) {
    const sb = sandbox(t);
    const r = await fetchAll([`${s.url('/a')} mine/given.bin`, s.url('/b')], { dest: sb.dest, contentDisposition: true, jobs });
    assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
    assert.deepEqual(readFileSync(path.join(sb.dest, 'mine', 'given.bin')), a.body, `--jobs ${jobs}`);
    assert.deepEqual(readFileSync(path.join(sb.dest, 'server-b.bin')), b.body, `--jobs ${jobs}`);
    assert.deepEqual(readdirSync(sb.dest).filter((f) => f !== '.bulkget').sort(), ['mine', 'server-b.bin']);
    sb.check();
  }
});

test('a sub-folder of DEST that is a symlink out of DEST is not followed', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  s.route('/a.bin');
  symlinkSync(sb.outside, path.join(sb.dest, 'sub'));
  // The tree layout's host folder, planted as a symlink too.
  symlinkSync(sb.outside, path.join(sb.dest, `127.0.0.1_${s.port}`));
  const r = await fetchAll(lines([`${s.url('/a.bin')} sub/a.bin`, `${s.url('/a.bin')} sub/deeper/a.bin`, s.url('/a.bin')].join('\n')), { dest: sb.dest, layout: 'tree' });
  assert.equal(r.code, 1);
  assert.equal(r.summary.counts.failed, 3);
  for (const f of r.summary.failures) assert.match(f.error, /symlink/);
  sb.check();
});

test('a planted .part symlink, final-name symlink or hard-linked .part is never written through', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  const victim = path.join(sb.outside, 'victim.txt');
  const p = s.route('/p.bin', { size: 2 << 20 });
  const q = s.route('/q.bin');
  const r2 = s.route('/r.bin', { size: 2 << 20 });
  const h = s.route('/h.bin', { size: 2 << 20 });
  mkdirSync(path.join(sb.dest, '.bulkget', 'partial'), { recursive: true });
  symlinkSync(victim, partialOf(sb.dest, 'p.bin'));
  symlinkSync(victim, path.join(sb.dest, 'q.bin'));
  // The partials of r.bin and h.bin come with a resume record, as an interrupted run leaves them.
  symlinkSync(victim, partialOf(sb.dest, 'r.bin'));
  linkSync(victim, partialOf(sb.dest, 'h.bin'));
  const state = await StateStore.open(sb.dest);
  state.recordPart('r.bin', s.url('/r.bin'), { etag: r2.etag, size: r2.body.length });
  state.recordPart('h.bin', s.url('/h.bin'), { etag: h.etag, size: h.body.length });
  await state.close();

  const r = await fetchAll(lines(['/p.bin', '/q.bin', '/r.bin', '/h.bin'].map((x) => s.url(x)).join('\n')), { dest: sb.dest });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures) + JSON.stringify(r.summary.failures));
  for (const [name, route] of [['p.bin', p], ['q.bin', q], ['r.bin', r2], ['h.bin', h]] as const) {
    assert.ok(lstatSync(path.join(sb.dest, name)).isFile(), `${name} is a regular file`);
    assert.deepEqual(readFileSync(path.join(sb.dest, name)), route.body, name);
  }
  assert.equal(s.hits('/r.bin')[0]!.headers.range, undefined, 'no resume through a symlink');
  sb.check();
});

test('--layout tree mirrors host_port/path; encoded separators stay inside one segment', async (t) => {
  const s = await server(t);
  const sb = sandbox(t);
  const a = s.route('/a/b/c.bin');
  const idx = s.route('/dir/');
  const enc = s.route('/x/..%2F..%2Fevil.bin');
  const r = await fetchAll(lines([s.url('/a/b/c.bin'), s.url('/dir/'), s.url('/x/..%2F..%2Fevil.bin')].join('\n')), { dest: sb.dest, layout: 'tree' });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures) + JSON.stringify(r.summary.failures));
  const host = `127.0.0.1_${s.port}`;
  assert.deepEqual(readFileSync(path.join(sb.dest, host, 'a', 'b', 'c.bin')), a.body);
  assert.deepEqual(readFileSync(path.join(sb.dest, host, 'dir', 'index.html')), idx.body);
  assert.deepEqual(readdirSync(path.join(sb.dest, host, 'x')), ['.._.._evil.bin']);
  assert.deepEqual(readFileSync(path.join(sb.dest, host, 'x', '.._.._evil.bin')), enc.body);
  sb.check();
});

test('TLS is verified; -k accepts a self-signed certificate', async (t) => {
  const s = await server(t, true);
  const route = s.route('/tls.bin');
  const dest = tmp('tls');
  const refused = await fetchAll(lines(s.url('/tls.bin')), { dest, retries: 0 });
  assert.equal(refused.code, 1);
  assert.match(refused.summary.failures[0]!.error, /certificate|self-signed|-k/i);
  assert.equal(s.hits('/tls.bin').length, 0);
  const ok = await fetchAll(lines(s.url('/tls.bin')), { dest, insecure: true });
  assert.equal(ok.code, 0, JSON.stringify(ok.summary.failures));
  assert.deepEqual(readFileSync(path.join(dest, 'tls.bin')), route.body);
});

/** A tiny forward proxy: absolute-form requests for http targets, CONNECT tunnels for https. */
async function startProxy(t: { after: (fn: () => Promise<void>) => void }): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const srv = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400);
      res.end('absolute-form only\n');
      return;
    }
    const up = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  srv.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  srv.on('connection', (sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const sock of sockets) sock.destroy();
        srv.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, seen };
}

test('--proxy and HTTP_PROXY carry http requests in absolute form; NO_PROXY bypasses them', async (t) => {
  const s = await server(t);
  const proxy = await startProxy(t);
  const route = s.route('/px.bin');
  const dest = tmp('proxy');
  const env = { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '' };

  const viaOption = await fetchAll(lines(s.url('/px.bin')), { dest, proxy: proxy.url, ifExists: 'overwrite', env: { ...process.env, ...env } });
  assert.equal(viaOption.code, 0, JSON.stringify(viaOption.summary.failures));
  assert.deepEqual(proxy.seen, [`GET ${s.url('/px.bin')}`]);
  assert.deepEqual(readFileSync(path.join(dest, 'px.bin')), route.body);

  const viaEnv = await fetchAll(lines(s.url('/px.bin')), { dest, ifExists: 'overwrite', env: { ...process.env, ...{ ...env, HTTP_PROXY: proxy.url } } });
  assert.equal(viaEnv.code, 0, JSON.stringify(viaEnv.summary.failures));
  assert.equal(proxy.seen.length, 2);

  const bypass = await fetchAll(lines(s.url('/px.bin')), { dest, ifExists: 'overwrite', env: { ...process.env, ...{ ...env, HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' } } });
  assert.equal(bypass.code, 0, JSON.stringify(bypass.summary.failures));
  assert.equal(proxy.seen.length, 2, 'NO_PROXY: the proxy saw nothing');
  assert.equal(s.hits('/px.bin').length, 3);

  // --proxy overrides NO_PROXY.
  const forced = await fetchAll(lines(s.url('/px.bin')), { dest, ifExists: 'overwrite', proxy: proxy.url, env: { ...process.env, ...{ ...env, NO_PROXY: '*' } } });
  assert.equal(forced.code, 0, JSON.stringify(forced.summary.failures));
  assert.equal(proxy.seen.length, 3);
});

test('https through HTTPS_PROXY goes through a CONNECT tunnel, TLS end to end', async (t) => {
  const s = await server(t, true);
  const proxy = await startProxy(t);
  const route = s.route('/tunnel.bin');
  const dest = tmp('proxy');
  const r = await fetchAll(lines(s.url('/tunnel.bin')), { dest, insecure: true, env: { ...process.env, ...{ HTTPS_PROXY: proxy.url, NO_PROXY: '', no_proxy: '' } } });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures) + JSON.stringify(r.summary.failures));
  assert.deepEqual(proxy.seen, [`CONNECT 127.0.0.1:${s.port}`]);
  assert.deepEqual(readFileSync(path.join(dest, 'tunnel.bin')), route.body);
});
