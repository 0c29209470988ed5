#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=2 --max-old-space-size=1024 --liftoff-only
// Thin shim: the compiled CLI lives in dist/ (built by `npm install` via the prepare script).
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
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    process.stderr.write('bulkget: not built yet; run `npm install` (or `npm run build`) first\n');
    process.exit(2);
  }
  throw err;
});
