// The CLI as one file: dist/bulkget.js, bundled by esbuild from what tsc wrote to dist/ (npm run
// build runs this after tsc). The library keeps its own files (dist/index.js and the rest); only
// the executable uses the bundle.
//
// Why: loading the CLI as ~80 ES modules of ours plus commander's and undici's CommonJS files
// cost ~45 ms of every run on the bench machine (a one-URL dry run: 194 -> 150 ms, Node 20.20,
// 30 runs each), most of it resolving, reading and linking files one by one. Tried and left out,
// measured the same way: minifying (-8 ms, but stack traces that name nothing), code splitting so
// that lazily imported parts keep their node: built-ins lazy (within 1 ms: the built-ins a run
// needs are loaded anyway).

import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// undici's HTTP/2 client: bulkget offers only http/1.1 in ALPN (src/http/connect.ts), so the
// module is never called, but it loads node:http2 (and with it node:tls) when the bundle starts:
// ~16 ms of every run on Node 24.21 (`require('node:http2')` alone, 40 runs). The bundle carries
// a stub that says so instead; the library, unbundled, still loads undici's own module.
const noHttp2 = {
  name: 'bulkget-no-http2',
  setup(b) {
    b.onResolve({ filter: /[\\/]client-h2\.js$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher$/.test(args.resolveDir) ? { path: 'client-h2', namespace: 'bulkget-stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'bulkget-stub' }, () => ({
      contents: "module.exports = function connectH2 () { throw new Error('bulkget speaks HTTP/1.1 only: the server chose h2') }",
      loader: 'js',
    }));
  },
};

await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/bulkget.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.18',
  // commander and undici are CommonJS and call require() for node: built-ins; an ES module has
  // no require of its own.
  banner: { js: "import { createRequire as bulkgetCreateRequire } from 'node:module';\nconst require = bulkgetCreateRequire(import.meta.url);" },
  plugins: [noHttp2],
  legalComments: 'eof',
  logLevel: 'warning',
});
