// The CLI as one file: dist/bulkget.cjs, bundled by esbuild from what tsc wrote to dist/ (npm run
// build runs this after tsc), then its V8 code caches (scripts/code-cache.cjs). The library keeps
// its own files (dist/index.js and the rest); only the executable uses the bundle.
//
// Why one file: loading the CLI as ~80 ES modules of ours plus commander's and undici's CommonJS
// files cost ~45 ms of every run on the bench machine (a one-URL dry run: 194 -> 150 ms, Node
// 20.20, 30 runs each), most of it resolving, reading and linking files one by one. Tried and left
// out, measured the same way: minifying (-8 ms, but stack traces that name nothing).
//
// Why CommonJS: a script can be compiled with a code cache (node:vm's cachedData) on every Node
// the package supports; an ES module only through Node 22's compile cache. bin/bundle-loader.js
// says what that saves.

import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = 'dist/bulkget.cjs';

// Stubs for what commander's and undici's modules require as they load but a bulkget run never
// uses. Each built-in module a run loads costs ~1-4 ms more than it would under plain `node`: the
// shebang's V8 flags change V8's flag hash, so Node's own code cache of its built-in modules is
// rejected and each is compiled from source (`require('node:http')` alone: 3.5 ms with the flags,
// 1.2 without; Node 20.20, 5 runs). Every stub must be used, or the build fails: an update of
// either package that moves these lines must be looked at, not silently bundled.
const STUBS = [
  {
    // undici's HTTP/2 client: bulkget offers only http/1.1 in ALPN (src/http/connect.ts), so it is
    // never called, but it loads node:http2 (and node:tls) as it starts: ~16 ms on Node 24.21.
    what: 'undici HTTP/2 client',
    module: /[\\/]client-h2\.js$/,
    importer: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/,
    contents: "module.exports = function connectH2 () { throw new Error('bulkget speaks HTTP/1.1 only: the server chose h2') }",
  },
  {
    // client.js reads node:http's maxHeaderSize only when a Client is made without one, and
    // bulkget always gives one (src/engine/setup.ts).
    what: 'node:http in undici client.js',
    module: /^(node:)?http$/,
    importer: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/,
    contents: 'module.exports = {}',
  },
  {
    // util.js compares a request body's constructor with IncomingMessage when it destroys the
    // body; bulkget's requests have no body.
    what: 'node:http in undici util.js',
    module: /^(node:)?http$/,
    importer: /[\\/]undici[\\/]lib[\\/]core[\\/]util\.js$/,
    contents: 'module.exports = { IncomingMessage: undefined }',
  },
  {
    // undici calls assert(value) for invariants (and nothing else of the module's); the real
    // module is loaded the first time one fails.
    what: 'node:assert in undici',
    module: /^(node:)?assert$/,
    importer: /[\\/]undici[\\/]lib[\\/]/,
    contents:
      "let real; module.exports = function assert (value, message) { if (!value) { real ??= require('node:assert'); real(value, message) } }",
  },
  {
    // commander spawns a process only for executable subcommands, which bulkget has none of.
    what: 'node:child_process in commander',
    module: /^(node:)?child_process$/,
    importer: /[\\/]commander[\\/]lib[\\/]command\.js$/,
    contents:
      "let real; module.exports = new Proxy({}, { get (_, key) { real ??= require('node:child_process'); return real[key] } })",
  },
];

const used = new Set();
const stubs = {
  name: 'bulkget-stubs',
  setup(b) {
    STUBS.forEach((s, i) => {
      b.onResolve({ filter: s.module }, (args) => {
        if (!s.importer.test(args.importer)) return undefined;
        used.add(i);
        return { path: String(i), namespace: 'bulkget-stub' };
      });
    });
    b.onLoad({ filter: /.*/, namespace: 'bulkget-stub' }, (args) => ({ contents: STUBS[Number(args.path)].contents, loader: 'js' }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outfile: OUT,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.18',
  // import.meta has no meaning in a script: packageFile() (src/version.ts) and the rest read the
  // bundle's own URL instead; import.meta.resolve is used only when running from src/ (tsx).
  define: { 'import.meta.url': 'bulkgetBundleUrl', 'import.meta.resolve': 'undefined' },
  banner: { js: "var bulkgetBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [stubs],
  legalComments: 'eof',
  logLevel: 'warning',
});

const missing = STUBS.filter((_, i) => !used.has(i)).map((s) => s.what);
if (missing.length) throw new Error(`scripts/bundle.mjs: stubs never used (did commander or undici change?): ${missing.join(', ')}`);

// The thread of a --jobs job, one file too (dist/job-worker.mjs, one folder below the root like
// src/version.ts): loaded as dist/engine/job-worker.js and the ES modules and undici files that
// imports, each thread cost ~85 ms of CPU and ~5 MiB more. Measured 2026-12-03, --jobs 2, Node
// 20.20, interleaved, medians: two 1 MiB files (7 runs) 0.336 -> 0.244 s, 0.51 -> 0.34 CPU s,
// 88.7 -> 77.7 MiB peak (Node 24.21: 0.312 -> 0.247 s, 101 -> 93 MiB); 200 x 1 MiB 0.674 ->
// 0.598 s; 10,000 x 4 KiB (5 runs) 1.506 -> 1.396 s, 139 -> 133 MiB; 2,000 x 1 MiB (3 runs)
// 151 -> 146 MiB.
// An ES module, as its source is (top-level await): `require` is given for undici's CommonJS
// files, which esbuild wraps.
await build({
  absWorkingDir: root,
  entryPoints: ['dist/engine/job-worker.js'],
  outfile: 'dist/job-worker.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.18',
  banner: { js: "import { createRequire as bulkgetCreateRequire } from 'node:module'; const require = bulkgetCreateRequire(import.meta.url);" },
  plugins: [stubs],
  legalComments: 'eof',
  logLevel: 'warning',
});

const code = Buffer.from(result.outputFiles[0].contents);
// The build's name, which ties a code cache to the very text it was made from (bundle-loader.js).
const id = createHash('sha256').update(code).digest('hex').slice(0, 32);
writeFileSync(`${root}/${OUT}`, Buffer.concat([code, Buffer.from(`//# bulkget-build=${id}\n`)]));

// The code caches: a run of the CLI under the shebang's flags (V8 refuses a cache made under
// other flags), and one under none, for `node bin/bulkget.js`. Without them the CLI works as
// well, only slower to start (and it makes one in the user's cache folder); so a failure here is
// a warning.
for (const f of readdirSync(`${root}/dist`)) if (/^code-[0-9a-f]+\.cache$/.test(f)) rmSync(`${root}/dist/${f}`);
// The node flags of the executable's trampoline (`exec node FLAGS "$0" "$@"`).
const flags = /\bnode ((?:--\S+ )+)"\$0"/.exec(readFileSync(`${root}/bin/bulkget.js`, 'utf8'))?.[1].trim().split(' ') ?? [];
for (const execArgv of [flags, []]) {
  const warm = spawnSync(process.execPath, [...execArgv, 'scripts/code-cache.cjs'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, MALLOC_ARENA_MAX: '1' },
  });
  if (warm.status !== 0) {
    process.stderr.write(`scripts/bundle.mjs: no code cache for \`node ${execArgv.join(' ')}\` (the CLI starts ~20 ms slower): ${(warm.stderr || warm.error?.message || '').trim().split('\n')[0]}\n`);
  }
}
