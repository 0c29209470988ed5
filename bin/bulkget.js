#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=2 --max-old-space-size=1024 --liftoff-only
// Thin shim: the CLI is dist/bulkget.js, one bundled file (built by `npm install` via the prepare
// script; see scripts/bundle.mjs). This file is CommonJS (bin/package.json says so): Node starts
// its ES module loader only when the bundle is imported, so `--version` never pays for it
// (measured: 84 ms as an ES module, 74 as CommonJS, `node -e 0` 72).
// Each flag re-measured 2026-11-27 (2 cores, Node 20.20, local server, /dev/shm; peak RSS):
// --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly, and V8's optimising
// tier-up of that module costs resident memory: 2 x 512 MiB peaked at 134 MiB without it, 100 with,
// at the same speed.
// --max-old-space-size=1024: any explicit limit switches V8 to tighter old-generation growth:
// 10,000 x 4 KiB peaked at 143 MiB without it, 117 with, at the same speed. bulkget's live heap is
// bounded by its item window, far below 1 GiB.
// --max-semi-space-size=2: a million-line list (dry run) peaked 25 bytes per item above a
// ten-thousand-line one with it, 48 without (SPEC allows 32): the young generation otherwise grows
// to 3 x 16 MiB of RSS. 10,000 small files: within noise of 4 and 8 in speed (1.47-1.53 s).
// MALLOC_ARENA_MAX=1 (glibc; ignored elsewhere): one malloc arena instead of one per thread that
// ever allocated, whose freed memory stays resident (a million-line list peaked 2-3 MiB lower);
// no change in time. It cannot be set from inside the process once the heap exists, nor can the
// V8 flags, hence the shebang.
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered here, before the ~900 KB bundle is read and compiled (117 ms when the bundle did it).
  const { readFileSync } = require('node:fs');
  const { join } = require('node:path');
  process.stdout.write(`${JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version}\n`);
} else {
  // Node 22+ keeps the compiled code of what is loaded after this on disk for the next run,
  // the bundle included (so it must be on before the bundle loads). The CLI's choice for its own
  // process, never the library's; Node 20 has no such cache.
  require('node:module').enableCompileCache?.();
  import('../dist/bulkget.js').catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
      process.stderr.write('bulkget: not built yet; run `npm install` (or `npm run build`) first\n');
      process.exit(2);
    }
    throw err;
  });
}
