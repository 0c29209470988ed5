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
  legalComments: 'eof',
  logLevel: 'warning',
});
