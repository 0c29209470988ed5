#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=2 --max-old-space-size=1024 --liftoff-only
// Thin shim: the compiled CLI lives in dist/ (built by `npm install` via the prepare script).
// MALLOC_ARENA_MAX=1 (glibc; ignored elsewhere): one malloc arena instead of one per thread that
// ever allocated (GC helpers, the thread pool, the file writer), whose freed memory stays
// resident: a million-line list peaked 2-3 MiB lower, with no change in time on small files.
// --max-semi-space-size=2: V8 otherwise grows the young generation to 3 x 16 MiB under bulkget's
// steady stream of short-lived objects, all of it RSS, while a run's live data is a few MiB
// (measured: a 1,000,000-line list peaks ~25 MiB lower with 4; 10,000 small files peak ~6 MiB
// lower with 2 than with 4, at no measurable cost in time). It cannot be set from inside the
// process once the heap exists, hence the shebang.
// --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly, and V8's optimising
// tier-up of that module costs ~35 MiB of resident memory (measured: one request peaks at 99 MiB
// without, 64 MiB with). The baseline compiler's parser was no slower end to end (10,000 small
// files: same wall time; a 512 MiB file: faster).
// --max-old-space-size=1024: with the default limit (a quarter of RAM) V8 lets the old generation
// run far ahead of the live heap (~22 MiB at 4,096 queued items); any explicit limit switches it
// to tighter growth: 10,000 small files peak at 89-91 MiB instead of 112 MiB, for ~5-8% more
// CPU. bulkget's live heap is bounded by its item window, far below 1 GiB.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    process.stderr.write('bulkget: not built yet; run `npm install` (or `npm run build`) first\n');
    process.exit(2);
  }
  throw err;
});
