import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';

import { runServe } from '../src/serve/command.js';
import { startFlagServer, type FlagServerOptions } from '../src/serve/server.js';

const FLAGS = new URL('../fixtures/flags/', import.meta.url);

type Got =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: Buffer; complete: boolean }
  | { kind: 'error'; code: string };

/** One request on a fresh connection (agent: false), so faults on one never leak into the next. */
function get(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (g: Got): void => {
      if (!settled) {
        settled = true;
        resolve(g);
      }
    };
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {}); // a cut body reports here; 'close' below tells the story
      res.on('close', () =>
        settle({ kind: 'response', status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }),
      );
    });
    req.on('error', (e: NodeJS.ErrnoException) => settle({ kind: 'error', code: e.code ?? e.message }));
    req.end();
  });
}

/** What a client makes of one answer: the status, or how the transfer broke. */
function outcome(g: Got): string {
  if (g.kind === 'error') return 'reset';
  const declared = Number(g.headers['content-length']);
  if (!g.complete || g.body.length < declared) return 'cut';
  return String(g.status);
}

function response(g: Got): Extract<Got, { kind: 'response' }> {
  assert.equal(g.kind, 'response', `expected a response, got ${JSON.stringify(g)}`);
  return g as Extract<Got, { kind: 'response' }>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function withServer<T>(o: FlagServerOptions, fn: (base: string) => Promise<T>): Promise<T> {
  const s = await startFlagServer({ port: 0, ...o });
  try {
    return await fn(s.baseUrl);
  } finally {
    await s.close();
  }
}

describe('LOCAL mode', () => {
  let server: Awaited<ReturnType<typeof startFlagServer>>;
  let base: string;
  let cn: Buffer;
  let lastModified: string;
  const logs: string[] = [];

  before(async () => {
    server = await startFlagServer({ mode: 'local', port: 0, log: (l) => logs.push(l) });
    base = server.baseUrl;
    cn = await readFile(new URL('cn.gif', FLAGS));
    const st = await stat(new URL('cn.gif', FLAGS));
    lastModified = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
  });
  after(() => server.close());

  test('baseUrl names the loopback address, the port and /flags', () => {
    assert.equal(base, `http://127.0.0.1:${server.port}/flags`);
  });

  test('GET answers 200 with the exact file and its validators (undici client)', async () => {
    const res = await request(`${base}/cn/cn.gif`);
    const body = Buffer.from(await res.body.arrayBuffer());
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body, cn);
    assert.equal(res.headers['content-type'], 'image/gif');
    assert.equal(res.headers['content-length'], String(cn.length));
    assert.match(String(res.headers['etag']), /^"[0-9a-f]{16}"$/);
    assert.equal(res.headers['last-modified'], lastModified);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers['cache-control'], 'no-cache');
  });

  test('every bundled flag is served', async () => {
    for (const cc of ['ad', 'br', 'us', 'zw']) {
      const g = response(await get(`${base}/${cc}/${cc}.gif`));
      assert.equal(g.status, 200, cc);
      assert.deepEqual(g.body, await readFile(new URL(`${cc}.gif`, FLAGS)));
    }
  });

  test('unknown codes and malformed paths answer 404 with a small text body', async () => {
    for (const path of ['/flags/zz/zz.gif', '/flags/cn/br.gif', '/flags/CN/CN.gif', '/flags/cn/cn.png', '/', '/flags/cn/cn.gif/x']) {
      const g = response(await get(`http://127.0.0.1:${server.port}${path}`));
      assert.equal(g.status, 404, path);
      assert.match(g.headers['content-type'] ?? '', /^text\/plain/);
      assert.ok(g.body.length > 0 && g.body.length < 100);
    }
  });

  test('other methods on a flag answer 405 with Allow', async () => {
    const g = response(await get(`${base}/cn/cn.gif`, { method: 'POST' }));
    assert.equal(g.status, 405);
    assert.equal(g.headers['allow'], 'GET, HEAD');
  });

  test('HEAD answers the GET headers with no body', async () => {
    const g = response(await get(`${base}/cn/cn.gif`, { method: 'HEAD' }));
    assert.equal(g.status, 200);
    assert.equal(g.headers['content-length'], String(cn.length));
    assert.equal(g.headers['content-type'], 'image/gif');
    assert.ok(g.headers['etag']);
    assert.equal(g.body.length, 0);
  });

  test('Range bytes=0-9 answers 206 with the first 10 bytes', async () => {
    const g = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9' } }));
    assert.equal(g.status, 206);
    assert.deepEqual(g.body, cn.subarray(0, 10));
    assert.equal(g.headers['content-range'], `bytes 0-9/${cn.length}`);
    assert.equal(g.headers['content-length'], '10');
  });

  test('suffix and open-ended ranges', async () => {
    const suffix = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=-5' } }));
    assert.equal(suffix.status, 206);
    assert.deepEqual(suffix.body, cn.subarray(cn.length - 5));
    assert.equal(suffix.headers['content-range'], `bytes ${cn.length - 5}-${cn.length - 1}/${cn.length}`);

    const open = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=10-' } }));
    assert.equal(open.status, 206);
    assert.deepEqual(open.body, cn.subarray(10));
    assert.equal(open.headers['content-range'], `bytes 10-${cn.length - 1}/${cn.length}`);

    // An end past the file is clamped, a suffix longer than the file is the whole file.
    const clamped = response(await get(`${base}/cn/cn.gif`, { headers: { Range: `bytes=5-${cn.length + 100}` } }));
    assert.equal(clamped.headers['content-range'], `bytes 5-${cn.length - 1}/${cn.length}`);
    const whole = response(await get(`${base}/cn/cn.gif`, { headers: { Range: `bytes=-${cn.length * 2}` } }));
    assert.equal(whole.status, 206);
    assert.deepEqual(whole.body, cn);
  });

  test('an unsatisfiable range answers 416 with bytes */LEN', async () => {
    for (const range of [`bytes=${cn.length}-`, `bytes=${cn.length + 10}-${cn.length + 20}`, 'bytes=-0']) {
      const g = response(await get(`${base}/cn/cn.gif`, { headers: { Range: range } }));
      assert.equal(g.status, 416, range);
      assert.equal(g.headers['content-range'], `bytes */${cn.length}`);
    }
  });

  test('several ranges, other units and malformed ranges get the full 200', async () => {
    for (const range of ['bytes=0-1, 5-6', 'items=0-1', 'bytes=9-3', 'bytes=x-']) {
      const g = response(await get(`${base}/cn/cn.gif`, { headers: { Range: range } }));
      assert.equal(g.status, 200, range);
      assert.deepEqual(g.body, cn);
    }
  });

  test('HEAD ignores Range', async () => {
    const g = response(await get(`${base}/cn/cn.gif`, { method: 'HEAD', headers: { Range: 'bytes=0-9' } }));
    assert.equal(g.status, 200);
    assert.equal(g.headers['content-length'], String(cn.length));
  });

  test('If-Range: a wrong validator gets the full 200, the right one the 206', async () => {
    const etag = response(await get(`${base}/cn/cn.gif`, { method: 'HEAD' })).headers['etag']!;
    const wrong = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9', 'If-Range': '"0000"' } }));
    assert.equal(wrong.status, 200);
    assert.deepEqual(wrong.body, cn);

    const right = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9', 'If-Range': etag } }));
    assert.equal(right.status, 206);
    assert.deepEqual(right.body, cn.subarray(0, 10));

    // A weak tag never satisfies If-Range, which needs a strong comparison.
    const weak = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9', 'If-Range': `W/${etag}` } }));
    assert.equal(weak.status, 200);

    const date = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9', 'If-Range': lastModified } }));
    assert.equal(date.status, 206);
    const oldDate = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const stale = response(await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9', 'If-Range': oldDate } }));
    assert.equal(stale.status, 200);
  });

  test('If-None-Match answers 304 with no body (lists, weak tags and *)', async () => {
    const etag = response(await get(`${base}/cn/cn.gif`, { method: 'HEAD' })).headers['etag']!;
    for (const inm of [etag, `"nope", W/${etag}`, '*']) {
      const g = response(await get(`${base}/cn/cn.gif`, { headers: { 'If-None-Match': inm } }));
      assert.equal(g.status, 304, inm);
      assert.equal(g.body.length, 0);
      assert.equal(g.headers['etag'], etag);
    }
    const miss = response(await get(`${base}/cn/cn.gif`, { headers: { 'If-None-Match': '"nope"' } }));
    assert.equal(miss.status, 200);
    assert.deepEqual(miss.body, cn);
  });

  test('If-Modified-Since answers 304 when not modified since, 200 otherwise', async () => {
    const same = response(await get(`${base}/cn/cn.gif`, { headers: { 'If-Modified-Since': lastModified } }));
    assert.equal(same.status, 304);
    assert.equal(same.body.length, 0);
    const later = new Date(Date.parse(lastModified) + 3_600_000).toUTCString();
    assert.equal(response(await get(`${base}/cn/cn.gif`, { headers: { 'If-Modified-Since': later } })).status, 304);
    const earlier = new Date(Date.parse(lastModified) - 3_600_000).toUTCString();
    assert.equal(response(await get(`${base}/cn/cn.gif`, { headers: { 'If-Modified-Since': earlier } })).status, 200);
    assert.equal(response(await get(`${base}/cn/cn.gif`, { headers: { 'If-Modified-Since': 'garbage' } })).status, 200);
    // If-None-Match takes precedence: a tag that does not match means 200 whatever the date says.
    const both = response(
      await get(`${base}/cn/cn.gif`, { headers: { 'If-None-Match': '"nope"', 'If-Modified-Since': lastModified } }),
    );
    assert.equal(both.status, 200);
  });

  test('one log line per request: METHOD path status bytes ms', async () => {
    logs.length = 0;
    await get(`${base}/cn/cn.gif`);
    await get(`${base}/zz/zz.gif`);
    await get(`${base}/cn/cn.gif`, { headers: { Range: 'bytes=0-9' } });
    assert.equal(logs.length, 3);
    assert.match(logs[0]!, new RegExp(`^GET /flags/cn/cn\\.gif 200 ${cn.length} \\d+ms$`));
    assert.match(logs[1]!, /^GET \/flags\/zz\/zz\.gif 404 \d+ \d+ms$/);
    assert.match(logs[2]!, /^GET \/flags\/cn\/cn\.gif 206 10 \d+ms$/);
  });
});

describe('server lifecycle', () => {
  test('close() ends idle keep-alive connections and resolves', async () => {
    const s = await startFlagServer({ mode: 'local', port: 0 });
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    try {
      const res = await request(`${s.baseUrl}/cn/cn.gif`, { dispatcher: agent });
      await res.body.arrayBuffer();
      // The client keeps its socket for a minute; close() must not wait for it.
      await s.close();
      await assert.rejects(request(`${s.baseUrl}/cn/cn.gif`, { dispatcher: agent }));
      await s.close(); // a second close is harmless
    } finally {
      await agent.close();
    }
  });

  test('a port in use rejects with a one-line message', async () => {
    const a = await startFlagServer({ mode: 'local', port: 0 });
    try {
      await assert.rejects(startFlagServer({ mode: 'local', port: a.port }), (e: Error) => {
        assert.equal(e.message, `port ${a.port} is already in use (another bulkget serve?)`);
        return true;
      });
    } finally {
      await a.close();
    }
  });

  test('servers in one process serve the same validators', async () => {
    const a = await startFlagServer({ mode: 'local', port: 0 });
    const b = await startFlagServer({ mode: 'delay', port: 0, delayMs: 0 });
    try {
      const ga = response(await get(`${a.baseUrl}/br/br.gif`, { method: 'HEAD' }));
      const gb = response(await get(`${b.baseUrl}/br/br.gif`, { method: 'HEAD' }));
      assert.equal(ga.headers['etag'], gb.headers['etag']);
      assert.equal(ga.headers['last-modified'], gb.headers['last-modified']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('DELAY mode', () => {
  const delayMs = 300;

  test('each answer waits delayMs, without holding up the others', async () => {
    await withServer({ mode: 'delay', delayMs }, async (base) => {
      let t0 = performance.now();
      const one = response(await get(`${base}/cn/cn.gif`));
      const single = performance.now() - t0;
      assert.equal(one.status, 200);
      assert.ok(single >= delayMs - 1, `one request took ${single}ms`);

      t0 = performance.now();
      const pair = await Promise.all([get(`${base}/cn/cn.gif`), get(`${base}/br/br.gif`)]);
      const both = performance.now() - t0;
      assert.deepEqual(pair.map(outcome), ['200', '200']);
      assert.ok(both >= delayMs - 1 && both < 2 * delayMs, `two concurrent requests took ${both}ms`);
    });
  });

  test('404s are delayed too', async () => {
    await withServer({ mode: 'delay', delayMs }, async (base) => {
      const t0 = performance.now();
      assert.equal(outcome(await get(`${base}/zz/zz.gif`)), '404');
      assert.ok(performance.now() - t0 >= delayMs - 1);
    });
  });
});

describe('ERROR mode', () => {
  test('with errorRate 1 every request is faulted, with all four kinds', async () => {
    const logs: string[] = [];
    await withServer({ mode: 'error', errorRate: 1, seed: 1, log: (l) => logs.push(l) }, async (base) => {
      const seen = new Map<string, number>();
      let retryAfter = 0;
      for (let i = 0; i < 40; i++) {
        const g = await get(`${base}/cn/cn.gif`);
        const o = outcome(g);
        seen.set(o, (seen.get(o) ?? 0) + 1);
        if (g.kind === 'response' && g.status === 503 && g.headers['retry-after'] === '1') retryAfter++;
      }
      assert.deepEqual([...seen.keys()].sort(), ['500', '503', 'cut', 'reset']);
      assert.ok(retryAfter > 0 && retryAfter < (seen.get('503') ?? 0), 'only some 503s carry Retry-After');
    });
    assert.equal(logs.length, 40);
    for (const l of logs) assert.match(l, / fault=(500|503( retry-after=1)?|reset|cut)$/);
  });

  test('a body cut short arrives with fewer bytes than its Content-Length', async () => {
    await withServer({ mode: 'error', errorRate: 1, seed: 1 }, async (base) => {
      for (let i = 0; i < 40; i++) {
        const g = await get(`${base}/cn/cn.gif`);
        if (outcome(g) !== 'cut') continue;
        const r = response(g);
        assert.equal(r.status, 200);
        assert.ok(r.headers['etag']);
        assert.ok(r.body.length < Number(r.headers['content-length']));
        assert.ok(r.body.length > 0, 'about half of the bytes arrive');
        return;
      }
      assert.fail('no cut body in 40 faulted requests');
    });
  });

  test('404 and 304 answers are never faulted', async () => {
    await withServer({ mode: 'error', errorRate: 1 }, async (base) => {
      const etag = await (async () => {
        const s = await startFlagServer({ mode: 'local', port: 0 });
        try {
          return response(await get(`${s.baseUrl}/cn/cn.gif`, { method: 'HEAD' })).headers['etag']!;
        } finally {
          await s.close();
        }
      })();
      for (let i = 0; i < 10; i++) {
        assert.equal(outcome(await get(`${base}/zz/zz.gif`)), '404');
        assert.equal(outcome(await get(`${base}/cn/cn.gif`, { headers: { 'If-None-Match': etag } })), '304');
      }
    });
  });

  test('the same seed gives the same faults for the same requests; another seed differs', async () => {
    const run = (seed: number): Promise<string[]> =>
      withServer({ mode: 'error', errorRate: 0.5, seed }, async (base) => {
        const seq: string[] = [];
        for (let i = 0; i < 30; i++) seq.push(outcome(await get(`${base}/cn/cn.gif`)));
        return seq;
      });
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.includes('200') && a.some((o) => o !== '200'), `a mix of faults and successes: ${a.join(' ')}`);
  });

  test('errorRate 0 never faults', async () => {
    await withServer({ mode: 'error', errorRate: 0 }, async (base) => {
      for (let i = 0; i < 20; i++) assert.equal(outcome(await get(`${base}/cn/cn.gif`)), '200');
    });
  });
});

describe('runServe', () => {
  function collect(): { stream: PassThrough; text: () => string } {
    const stream = new PassThrough();
    let buf = '';
    stream.on('data', (c: Buffer) => (buf += c.toString()));
    return { stream, text: () => buf };
  }

  async function waitFor(cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cond(), `timed out waiting for ${what}`);
  }

  const base = { host: '127.0.0.1', delay: 0.05, errorRate: 0, seed: 1 };

  test('starts the three listeners, logs with -v, and stops on abort with 0', async () => {
    const [localPort, delayPort, errorPort] = [await freePort(), await freePort(), await freePort()];
    const out = collect();
    const err = collect();
    const ac = new AbortController();
    const sigintBefore = process.listenerCount('SIGINT');
    const sigtermBefore = process.listenerCount('SIGTERM');
    const done = runServe({ ...base, localPort, delayPort, errorPort, verbose: true, signal: ac.signal }, out.stream, err.stream);

    await waitFor(() => out.text().includes('Press Ctrl-C to stop.'), 'the banner');
    const lines = out.text().trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[0], `LOCAL  http://127.0.0.1:${localPort}/flags  (flags/{cc}/{cc}.gif)`);
    assert.match(lines[1]!, new RegExp(`^DELAY  http://127\\.0\\.0\\.1:${delayPort}/flags  \\(flags/\\{cc\\}/\\{cc\\}\\.gif`));
    assert.match(lines[2]!, new RegExp(`^ERROR  http://127\\.0\\.0\\.1:${errorPort}/flags  \\(flags/\\{cc\\}/\\{cc\\}\\.gif`));
    assert.equal(lines[3], 'Press Ctrl-C to stop.');
    assert.equal(process.listenerCount('SIGINT'), sigintBefore + 1);
    assert.equal(process.listenerCount('SIGTERM'), sigtermBefore + 1);

    for (const port of [localPort, delayPort, errorPort]) {
      assert.equal(outcome(await get(`http://127.0.0.1:${port}/flags/cn/cn.gif`)), '200');
    }
    await waitFor(() => err.text().split('\n').length > 3, 'three log lines');
    const logs = err.text().trimEnd().split('\n');
    assert.match(logs[0]!, /^LOCAL  GET \/flags\/cn\/cn\.gif 200 \d+ \d+ms$/);
    assert.match(logs[1]!, /^DELAY  GET \/flags\/cn\/cn\.gif 200 \d+ \d+ms$/);
    assert.match(logs[2]!, /^ERROR  GET \/flags\/cn\/cn\.gif 200 \d+ \d+ms$/);

    ac.abort();
    assert.equal(await done, 0);
    assert.equal(process.listenerCount('SIGINT'), sigintBefore);
    assert.equal(process.listenerCount('SIGTERM'), sigtermBefore);
    // Every port is free again.
    for (const port of [localPort, delayPort, errorPort]) {
      const s = await startFlagServer({ mode: 'local', port });
      await s.close();
    }
  });

  test('without -v nothing is logged; modes picks the listeners', async () => {
    const localPort = await freePort();
    const out = collect();
    const err = collect();
    const ac = new AbortController();
    const done = runServe(
      { ...base, localPort, delayPort: 0, errorPort: 0, verbose: false, modes: ['local'], signal: ac.signal },
      out.stream,
      err.stream,
    );
    await waitFor(() => out.text().includes('Press Ctrl-C'), 'the banner');
    assert.equal(out.text().trimEnd().split('\n').length, 2);
    assert.equal(outcome(await get(`http://127.0.0.1:${localPort}/flags/cn/cn.gif`)), '200');
    ac.abort();
    assert.equal(await done, 0);
    assert.equal(err.text(), '');
  });

  test('a port in use: closes what it opened, one line on err, exit 2', async () => {
    const [localPort, delayPort] = [await freePort(), await freePort()];
    const blocker = await startFlagServer({ mode: 'local', port: 0 });
    const sigintBefore = process.listenerCount('SIGINT');
    const out = collect();
    const err = collect();
    try {
      const code = await runServe(
        { ...base, localPort, delayPort, errorPort: blocker.port, verbose: false },
        out.stream,
        err.stream,
      );
      assert.equal(code, 2);
      assert.equal(err.text(), `bulkget serve: port ${blocker.port} is already in use (another bulkget serve?)\n`);
      assert.equal(out.text(), '');
      assert.equal(process.listenerCount('SIGINT'), sigintBefore);
      for (const port of [localPort, delayPort]) {
        const s = await startFlagServer({ mode: 'local', port });
        await s.close();
      }
    } finally {
      await blocker.close();
    }
  });

  test('two modes on one port is refused before listening', async () => {
    const err = collect();
    const code = await runServe({ ...base, localPort: 8001, delayPort: 8001, errorPort: 0, verbose: false }, collect().stream, err.stream);
    assert.equal(code, 2);
    assert.match(err.text(), /^bulkget serve: LOCAL and DELAY cannot share port 8001.*\n$/);
  });

  test('an already aborted signal starts and stops at once', async () => {
    const out = collect();
    const code = await runServe(
      { ...base, localPort: 0, delayPort: 0, errorPort: 0, verbose: false, signal: AbortSignal.abort() },
      out.stream,
      collect().stream,
    );
    assert.equal(code, 0);
  });
});
