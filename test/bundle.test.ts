// The executable as users run it: bin/bulkget.js loading dist/bulkget.cjs, the CLI bundled into one
// file (scripts/bundle.mjs), with the code cache the build made of it. The other suites run the CLI from src/ through tsx, so this one goes
// through the parts a bundle can break: files found from the package root (the version, the
// country codes, the flag images, the --jobs thread's script), the small-file writer thread
// started from its source text, and the lazily loaded parts (serve, completion).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, collect, type CliResult } from './helpers/cli.js';
import { bodyFor, startServer } from './helpers/server.js';
import { tempDirs } from './helpers/tmp.js';
import { TEST_CERT, TEST_KEY } from './helpers/tls.js';

const tmp = tempDirs('bundle');
const BIN = path.join(ROOT, 'bin/bulkget.js');
const BUNDLE = path.join(ROOT, 'dist/bulkget.cjs');
const skip = !existsSync(BUNDLE) && 'needs npm run build';

function run(args: string[], stdin = ''): Promise<CliResult> {
  const child = spawn(BIN, args, {
    env: { ...process.env, NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent/bulkget-tests', BULKGET_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = collect(child);
  child.stdin!.end(stdin);
  return done;
}

test('bundle: --version, --help and a usage error from the executable', { skip }, async () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const v = await run(['--version']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, `${pkg.version}\n`);
  // The same answer from inside the bundle (an option before it, so the shim's shortcut is passed by).
  const v2 = await run(['-q', '--version']);
  assert.equal(v2.stdout.trim(), pkg.version, v2.stderr);
  const h = await run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage: bulkget /);
  const bad = await run(['--limit', 'lots', 'http://127.0.0.1:9/x']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

test('bundle: flags -a from the embedded server, every flag byte-equal to the fixtures', { skip }, async () => {
  const dest = tmp();
  const r = await run(['flags', '-a', '-d', dest, '-q', '--report', '-']);
  assert.equal(r.code, 0, r.stderr);
  const codes = readFileSync(path.join(ROOT, 'fixtures/country_codes.txt'), 'utf8').split(/\s+/).filter(Boolean);
  const report = JSON.parse(r.stdout) as { counts: { downloaded: number } };
  assert.equal(report.counts.downloaded, codes.length);
  for (const cc of codes.map((c) => c.toLowerCase())) {
    assert.deepEqual(readFileSync(path.join(dest, `${cc}.gif`)), readFileSync(path.join(ROOT, 'fixtures/flags', `${cc}.gif`)), cc);
  }
});

test('bundle: many small files (the writer thread) and --jobs 2 (the job threads)', { skip }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const names = Array.from({ length: 120 }, (_, i) => `b${i}.bin`);
  const list = names.map((n) => s.url(`/file/${n}?size=${100 + names.indexOf(n)}`)).join('\n') + '\n';
  for (const jobs of ['1', '2']) {
    const dest = tmp();
    const r = await run(['-i', '-', '-d', dest, '-q', '--jobs', jobs, '--report', '-'], list);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { counts: { downloaded: number } }).counts.downloaded, names.length);
    assert.deepEqual(readdirSync(dest).filter((n) => !n.startsWith('.')).sort(), [...names].sort());
    names.forEach((n, i) => assert.deepEqual(readFileSync(path.join(dest, n)), bodyFor(n, 100 + i), `--jobs ${jobs}: ${n}`));
  }
});

test('bundle: a --jobs thread is one file too: the executable, its bundles and setupJob run --jobs 2 with no dist/engine/', { skip }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const pkg = packageCopy(null);
  // What a job thread may load besides its bundle: setupJob (cli/memory.js) and what that imports.
  for (const f of ['dist/job-worker.mjs', 'dist/cli/memory.js', 'dist/version.js', 'dist/package.json']) {
    if (!existsSync(path.join(ROOT, f))) continue;
    mkdirSync(path.dirname(path.join(pkg, f)), { recursive: true });
    copyFileSync(path.join(ROOT, f), path.join(pkg, f));
  }
  assert.ok(!existsSync(path.join(pkg, 'dist/engine')));
  const names = Array.from({ length: 40 }, (_, i) => `j${i}.bin`);
  const dest = tmp();
  const child = spawn(path.join(pkg, 'bin/bulkget.js'), ['-i', '-', '-d', dest, '-q', '--jobs', '2', '--report', '-'], {
    env: { ...process.env, NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent/bulkget-tests', XDG_CACHE_HOME: tmp(), BULKGET_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = collect(child);
  child.stdin!.end(names.map((n, i) => s.url(`/file/${n}?size=${5000 + i}`)).join('\n') + '\n');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { counts: { downloaded: number } }).counts.downloaded, names.length);
  names.forEach((n, i) => assert.deepEqual(readFileSync(path.join(dest, n)), bodyFor(n, 5000 + i), n));
});

test('bundle: serve answers from the bundled flags; completion prints a script', { skip }, async () => {
  const child = spawn(BIN, ['serve', '--only', 'local', '--local-port', '0', '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const port = await new Promise<number>((resolve, reject) => {
      const look = (d: string) => {
        out += d;
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      };
      child.stdout.on('data', look);
      child.stderr.on('data', look);
      child.on('close', () => reject(new Error(`serve ended: ${out}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/flags/br/br.gif`);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), readFileSync(path.join(ROOT, 'fixtures/flags/br.gif')));
  } finally {
    child.kill('SIGINT');
  }
  const c = await run(['completion', 'bash']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /complete .*bulkget/);
});

test('bundle: HTTPS from a server that also offers h2: http/1.1 is what is asked for, -k or not', { skip }, async (t) => {
  // The bundle carries a stub for undici's HTTP/2 client (scripts/bundle.mjs): fine only while
  // bulkget never offers h2, which this server would take.
  const server = http2.createSecureServer({ key: TEST_KEY, cert: TEST_CERT, allowHTTP1: true }, (req, res) => {
    res.setHeader('x-alpn', req.httpVersion);
    res.end(`secure ${req.url} over ${req.httpVersion}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/s.txt`;
  const dest = tmp();
  const ok = await run(['-k', '-q', '-d', dest, url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(path.join(dest, 's.txt'), 'utf8'), 'secure /s.txt over 1.1');
  // Without -k the self-signed certificate is refused: TLS is verified.
  const refused = await run(['-q', '-r', '0', '-d', tmp(), url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /certificate/i);
});

test('bundle: the executable starts where env has no -S (BusyBox, Alpine), with its flags and environment', { skip }, async (t) => {
  // A system whose env is BusyBox's: POSIX options only, `-S` refused as BusyBox 1.35 does. The
  // file is run as the kernel would (its #! interpreter, with the optional argument), that env
  // standing in for /usr/bin/env and first on PATH.
  const server = await startServer();
  t.after(() => server.close());
  const dir = tmp();
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const env = path.join(bin, 'env');
  writeFileSync(env, '#!/bin/sh\nfor a in "$@"; do case "$a" in -S*) echo "env: invalid option -- \'S\'" >&2; exit 1;; esac; done\nexec /usr/bin/env "$@"\n');
  chmodSync(env, 0o755);
  const [, interp, arg] = /^#!\s*(\S+)(?:\s+(.*))?$/.exec(readFileSync(BIN, 'utf8').split('\n')[0]!)!;
  const seen = path.join(dir, 'seen.json');
  const preload = path.join(dir, 'seen.cjs');
  writeFileSync(preload, `require('node:fs').writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ flags: process.execArgv, arena: process.env.MALLOC_ARENA_MAX ?? null }));\n`);
  const dest = path.join(dir, 'dest');
  const child = spawn(interp === '/usr/bin/env' ? env : interp!, [...(arg ? [arg] : []), BIN, '-q', '-d', dest, server.url('/file/a.bin?size=100'), 'x y'], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NODE_OPTIONS: `--require ${preload}`, XDG_CONFIG_HOME: '/nonexistent/bulkget-tests', BULKGET_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = await collect(child);
  // The arguments arrive as given: 'x y' is one (an invalid line), not two.
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Invalid input argv:2: /);
  assert.equal(readFileSync(path.join(dest, 'a.bin')).length, 100);
  assert.deepEqual(JSON.parse(readFileSync(seen, 'utf8')), { flags: SHEBANG_FLAGS, arena: '1' });
});

test('bundle: NODE_EXTRA_CA_CERTS is handed to bulkget by the shebang (Node 20 does not read it at start) and still trusted', { skip }, async (t) => {
  const server = http2.createSecureServer({ key: TEST_KEY, cert: TEST_CERT, allowHTTP1: true }, (req, res) => res.end(`trusted ${req.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/t.txt`;
  const dir = tmp();
  const ca = path.join(dir, 'ca.pem');
  writeFileSync(ca, TEST_CERT);
  // What node was started with, seen before any of bulkget's code runs.
  const seen = path.join(dir, 'env.json');
  const preload = path.join(dir, 'env.cjs');
  writeFileSync(preload, `require('node:fs').writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ node: process.env.NODE_EXTRA_CA_CERTS ?? null, deferred: process.env.BULKGET_DEFERRED_CA_CERTS ?? null }));\n`);
  const dest = path.join(dir, 'dest');
  const child = spawn(BIN, ['-q', '-r', '0', '-d', dest, url], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca, NODE_OPTIONS: `--require ${preload}`, XDG_CONFIG_HOME: '/nonexistent/bulkget-tests', BULKGET_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(dest, 't.txt'), 'utf8'), 'trusted /t.txt');
  assert.deepEqual(JSON.parse(readFileSync(seen, 'utf8')), { node: null, deferred: ca });
});

// The V8 flags of the executable's trampoline (`exec node FLAGS "$0" "$@"`), as it runs under them.
const SHEBANG_FLAGS = /\bnode ((?:--\S+ )+)"\$0"/.exec(readFileSync(BIN, 'utf8'))![1]!.trim().split(' ');

test('bundle: a one-URL run loads no built-in module it does not use (each costs 1-6 ms under the shebang flags)', { skip }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dir = tmp();
  const list = path.join(dir, 'modules.txt');
  const preload = path.join(dir, 'dump.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
  const child = spawn(BIN, ['-q', '-d', path.join(dir, 'dest'), s.url('/file/one.bin?size=4096')], {
    env: { ...process.env, NODE_OPTIONS: `--require ${preload}`, XDG_CONFIG_HOME: '/nonexistent/bulkget-tests', BULKGET_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(path.join(dir, 'dest', 'one.bin')), bodyFor('one.bin', 4096));
  const loaded = new Set(readFileSync(list, 'utf8').split('\n').filter((l) => l.startsWith('NativeModule ')).map((l) => l.slice('NativeModule '.length)));
  assert.ok(loaded.has('net') && loaded.has('fs/promises'), 'the list is of the run');
  // node:http (undici's util.js and client.js, stubbed), node:assert (undici, stubbed), node:crypto
  // (names and tokens), node:perf_hooks (performance.now), node:readline (the failure log) and
  // node:worker_threads (the writer thread, started after 32 files).
  const unwanted = ['http', 'https', 'http2', 'tls', 'assert', 'crypto', 'perf_hooks', 'readline', 'worker_threads'];
  assert.deepEqual(unwanted.filter((m) => loaded.has(m)), []);
});

const loader = createRequire(import.meta.url)('../bin/bundle-loader.js') as { cacheFile: (dir: string, version: string, arch: string, execArgv: string[]) => string };
/** The build's cache for this Node under `execArgv`, in the package at `root`. */
const builtCache = (execArgv: string[], root = ROOT) => loader.cacheFile(path.join(root, 'dist'), process.version, process.arch, execArgv);

/** In the package at `root`, under `flags`: is a cache found for its bundle, and does V8 take it? */
async function probeCache(root: string, dir: string, env: NodeJS.ProcessEnv = process.env, flags = SHEBANG_FLAGS): Promise<{ given: boolean; rejected?: boolean }> {
  const probe = path.join(dir, 'probe.cjs');
  writeFileSync(
    probe,
    `const l = require(${JSON.stringify(path.join(root, 'bin/bundle-loader.js'))});
const src = require('node:fs').readFileSync(l.BUNDLE, 'utf8');
const data = l.cachedDataFor(src);
process.stdout.write(JSON.stringify(data ? { given: true, rejected: l.compile(src, data).script.cachedDataRejected } : { given: false }));\n`,
  );
  const r = await collect(spawn(process.execPath, [...flags, probe], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { given: boolean; rejected?: boolean };
}

/** A copy of the package's executable parts, with `cache` (or none) as the build's cache. */
function packageCopy(cache: Buffer | null): string {
  const pkg = tmp();
  for (const f of ['package.json', 'bin/bulkget.js', 'bin/bundle-loader.js', 'bin/package.json', 'dist/bulkget.cjs']) {
    mkdirSync(path.dirname(path.join(pkg, f)), { recursive: true });
    copyFileSync(path.join(ROOT, f), path.join(pkg, f));
  }
  if (cache) writeFileSync(builtCache(SHEBANG_FLAGS, pkg), cache);
  return pkg;
}

test('bundle: the code caches the build made are for this Node, under the shebang flags and under none, and V8 takes them', { skip }, async () => {
  const build = /\/\/# bulkget-build=([0-9a-f]+)\n$/.exec(readFileSync(BUNDLE, 'utf8'))?.[1];
  for (const flags of [SHEBANG_FLAGS, []]) {
    const cache = readFileSync(builtCache(flags));
    assert.equal(cache.subarray(0, cache.indexOf(10)).toString('latin1'), `bulkget-code-cache 1 ${build} ${process.version} ${process.arch} ${flags.join(' ')}`);
    assert.deepEqual(await probeCache(ROOT, tmp(), { ...process.env, XDG_CACHE_HOME: tmp() }, flags), { given: true, rejected: false }, flags.join(' '));
  }
});

test('bundle: a cache that is garbage, of another build, or missing: the CLI runs from source, right', { skip }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const build = /\/\/# bulkget-build=([0-9a-f]+)\n$/.exec(readFileSync(BUNDLE, 'utf8'))![1]!;
  const real = readFileSync(builtCache(SHEBANG_FLAGS));
  const key = real.subarray(0, real.indexOf(10)).toString('latin1');
  const cases: Array<[string, Buffer | null, { given: boolean; rejected?: boolean }]> = [
    ['garbage under the right key', Buffer.concat([Buffer.from(`${key}\n`, 'latin1'), Buffer.alloc(4096, 0x5a)]), { given: true, rejected: true }],
    ['another build', Buffer.concat([Buffer.from(`${key.replace(build, '0'.repeat(build.length))}\n`, 'latin1'), real.subarray(key.length + 1)]), { given: false }],
    ['none', null, { given: false }],
  ];
  for (const [what, cache, expected] of cases) {
    const pkg = packageCopy(cache);
    const env = { ...process.env, XDG_CACHE_HOME: tmp() };
    assert.deepEqual(await probeCache(pkg, tmp(), env), expected, what);
    const dest = tmp();
    const r = await collect(spawn(path.join(pkg, 'bin/bulkget.js'), ['-q', '-d', dest, s.url('/file/c.bin?size=5000')], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.deepEqual(readFileSync(path.join(dest, 'c.bin')), bodyFor('c.bin', 5000), what);
  }
});

test('bundle: with no build cache for this Node, a run that ends well leaves one for the user, in a folder of their own only', { skip }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const pkg = packageCopy(null);
  const run = async (env: NodeJS.ProcessEnv, name: string) => {
    const dest = tmp();
    const r = await collect(spawn(path.join(pkg, 'bin/bulkget.js'), ['-q', '-d', dest, s.url(`/file/${name}?size=700`)], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(path.join(dest, name)), bodyFor(name, 700));
  };
  const home = tmp();
  const env = { ...process.env, XDG_CACHE_HOME: home };
  assert.deepEqual(await probeCache(pkg, tmp(), env), { given: false });
  await run(env, 'u1.bin');
  const made = readdirSync(path.join(home, 'bulkget'));
  assert.equal(made.length, 1, made.join());
  assert.match(made[0]!, /^code-[0-9a-f]{8}\.cache$/);
  assert.equal(statSync(path.join(home, 'bulkget')).mode & 0o777, 0o700);
  assert.equal(statSync(path.join(home, 'bulkget', made[0]!)).mode & 0o777, 0o600);
  assert.deepEqual(await probeCache(pkg, tmp(), env), { given: true, rejected: false });
  await run(env, 'u2.bin'); // from the user's cache now
  // A cache folder others may write in holds code nobody should run: neither read nor written.
  const shared = tmp();
  mkdirSync(path.join(shared, 'bulkget'), { mode: 0o700 });
  copyFileSync(path.join(home, 'bulkget', made[0]!), path.join(shared, 'bulkget', made[0]!));
  chmodSync(path.join(shared, 'bulkget'), 0o777);
  const sharedEnv = { ...process.env, XDG_CACHE_HOME: shared };
  assert.deepEqual(await probeCache(pkg, tmp(), sharedEnv), { given: false });
  rmSync(path.join(shared, 'bulkget', made[0]!));
  await run(sharedEnv, 'u3.bin');
  assert.deepEqual(readdirSync(path.join(shared, 'bulkget')), []);
});
