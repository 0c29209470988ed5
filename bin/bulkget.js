#!/bin/sh
":" //; export BULKGET_DEFERRED_CA_CERTS="$NODE_EXTRA_CA_CERTS" MALLOC_ARENA_MAX=1; unset NODE_EXTRA_CA_CERTS; exec node --max-semi-space-size=2 --max-old-space-size=1024 --initial-old-space-size=40 --liftoff-only "$0" "$@"
// The two lines above are a shell script that is also JavaScript: sh runs the second one, which
// sets the environment below and execs node on this file with the flags below; node reads it as a
// string and a comment. A `#!/usr/bin/env -S ...` line did the same only where env knows -S:
// BusyBox's env (Alpine images, the usual small Node containers) does not ("env: invalid option --
// 'S'": the CLI never started there). Plain POSIX sh (export, unset, exec) needs no env at all. It
// costs one exec of /bin/sh (about a millisecond). `node bin/bulkget.js` skips both lines (no flags).
// Thin shim: the CLI is dist/bulkget.cjs, one bundled file (built by `npm install` via the
// prepare script; see scripts/bundle.mjs), loaded by bundle-loader.js. This file and the bundle
// are CommonJS (bin/package.json says so): the main thread never starts the ES module loader (measured:
// `--version` 84 ms as an ES module, 74 as CommonJS, `node -e 0` 72).
// Each flag re-measured 2026-11-27 (2 cores, Node 20.20, local server, /dev/shm; peak RSS):
// --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly, and V8's optimising
// tier-up of that module costs resident memory: 2 x 512 MiB peaked at 134 MiB without it, 100 with,
// at the same speed.
// --max-old-space-size=1024: any explicit limit switches V8 to tighter old-generation growth:
// 10,000 x 4 KiB peaked at 143 MiB without it, 117 with, at the same speed. bulkget's live heap is
// bounded by its item window, far below 1 GiB.
// --initial-old-space-size=40 (48 measured 2026-12-02, 3 interleaved rounds, 2,000 x 1 MiB, 16
// connections): V8 counts memory outside its heap that came in since its last full collection
// (here the socket reads' ArrayBuffers that outlived two scavenges while waiting to be written)
// against the old generation's limit, which after a full collection of bulkget's ~8 MiB heap is
// ~18 MiB: a stream of bodies ran one full collection every 40 ms (110 in the run). With this
// flag: 5-10. Node 20: 4.92 -> 3.57 s, 7.07 -> 4.79 CPU s; Node 24: 5.51 -> 3.65 s, 8.66 -> 4.86
// CPU s; 2 x 512 MiB 5% faster; 10,000 x 4 KiB within noise. It costs resident memory (10,000 x
// 4 KiB: 86 -> 111 MiB on Node 20, 110 -> 130 on Node 24). 32 was slower (4.49 s), 64 no faster.
// The million-line rule below holds through cli/memory.ts, which collects once external memory
// grows by 4 MiB in a dry run, 16 in a download (with this flag alone a dry run peaked 33 bytes
// per item over 10,000 lines).
// 40, not 48 (measured 2026-12-03, Node 20.20): every full-collection cycle of a long run climbs
// to this limit, while a 10,000-file run may end below it: with 48 its peak ranged over 99-110 MiB
// in ten runs (medians of five in the bench: 102.7-105.3) and a million 16-byte files peaked at
// 132.6-134.5 MiB, 30-33 bytes per item above those medians (SPEC: 32). With 40: a median of
// 100.8 MiB (five runs, 99.9-101.1) and 127.2 MiB, 27.9 bytes per item (dry run 25.2 either
// way). Speed, 5-7 interleaved rounds: 10,000 x 4 KiB 0.719 vs 0.728 s, 2 x 512 MiB 0.969 vs
// 0.947, 200 x 1 MiB 0.354 vs 0.365, 2,000 x 1 MiB 2.325 vs 2.332 (Node 24.21: 2.328 vs 2.470,
// the one cost seen).
// --max-semi-space-size=2: a million-line list (dry run) peaked 25 bytes per item above a
// ten-thousand-line one with it, 48 without (SPEC allows 32): the young generation otherwise grows
// to 3 x 16 MiB of RSS. 10,000 small files: within noise of 4 and 8 in speed (1.47-1.53 s).
// Re-measured 2026-12-02 at steady state (Node 20.20, 5-6 interleaved rounds, medians): 8 is
// faster, 100,000 x 4 KiB 6.77 vs 7.87 s (8.80 vs 10.19 CPU s), 2,000 x 1 MiB 4.05 vs 4.65 s
// (5.38 vs 6.14 CPU s), since scavenges are 4x rarer (301 vs 1,084, 0.87 vs 1.88 s of pauses) and
// fewer objects are promoted. It still stays out: a 10,000-file run then ends before the old
// generation reaches its first full collection (peak 93-96 MiB real, against 108-109 with 2), while
// a million-file run always does (138.7 MiB), so the million-URL list measures 47 bytes per item
// above the 10,000 one, against SPEC's 32 (4 and 6 lowered that baseline alike). Full
// collections forced every 12 or 16 MiB of heap growth, to keep the long run's old generation as
// low, cost the gain back (7.70 and 7.54 s against 6.49; 476 "weak objects" deoptimisations
// against none). 4, tried 2026-12-04 with --initial-old-space-size 32 and 24 (6 rounds, the order
// rotated each round, Node 20.20, CPU against 2 with 40): 100,000 x 4 KiB 0.99 and 1.02, 2,000 x
// 1 MiB 1.08 and 1.24, though it halved the scavenges (1,111 -> 537); the bench measured 4 with
// 32 at 32.9 bytes per item on the million-line real run (24: 24.6). Rounds that ran the
// configurations in the same order every time had shown it 5-25% faster: compare only in
// rotated order.
// NODE_EXTRA_CA_CERTS moves to BULKGET_DEFERRED_CA_CERTS (the shell expands it): Node 20 reads that
// file as it starts, 45 ms of every run with the Debian bundle (`node -e 0`: 70 ms with it, 25
// without; Node 24 reads it lazily, no difference); bulkget trusts the file itself at its first
// https connection (src/http/trust.ts). Put back below for anything that reads the environment.
// MALLOC_ARENA_MAX=1 (glibc; ignored elsewhere): one malloc arena instead of one per thread that
// ever allocated, whose freed memory stays resident (a million-line list peaked 2-3 MiB lower);
// no change in time. It cannot be set from inside the process once the heap exists, nor can the
// V8 flags, hence the trampoline.
if (process.env.BULKGET_DEFERRED_CA_CERTS) process.env.NODE_EXTRA_CA_CERTS = process.env.BULKGET_DEFERRED_CA_CERTS;
else delete process.env.BULKGET_DEFERRED_CA_CERTS;
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered here, before the ~900 KB bundle is read and compiled (117 ms when the bundle did it).
  const { readFileSync } = require('node:fs');
  const { join } = require('node:path');
  process.stdout.write(`${JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version}\n`);
} else {
  // Node 22+ keeps the compiled code of modules loaded after this on disk for the next run (the
  // --jobs threads' modules; the bundle has a cache of its own, bundle-loader.js). The CLI's
  // choice for its own process, never the library's.
  require('node:module').enableCompileCache?.();
  require('./bundle-loader.js').start();
}
