#!/bin/sh
":" //; export BULKGET_DEFERRED_CA_CERTS="$NODE_EXTRA_CA_CERTS" MALLOC_ARENA_MAX=1; unset NODE_EXTRA_CA_CERTS; exec node --max-semi-space-size=4 --max-old-space-size=1024 --initial-old-space-size=32 --liftoff-only "$0" "$@"
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
// --initial-old-space-size=32: V8 counts memory outside its heap that came in since its last full
// collection (the socket reads' ArrayBuffers that outlived two scavenges while waiting to be
// written) against the old generation's limit, which after a full collection of bulkget's ~8 MiB
// heap is ~18 MiB: with no such flag a stream of bodies ran one full collection every 40 ms (110
// in 2,000 x 1 MiB, measured 2026-12-02; with 48: 5-10, 4.92 -> 3.57 s on Node 20). Every
// full-collection cycle of a long run climbs to this limit while a 10,000-file run may end below
// it, so it also sets the million-line rule below (48 gave 30-33 bytes per item, 40 gave 28).
// --max-semi-space-size=4: a young generation of 2 x 4 MiB. 100,000 x 4 KiB (Node 20, --trace-gc)
// ran 537 scavenges with it (1.34 s of pauses) against 1,111 (2.16 s) with 2 and 40, and 16 full
// collections against 31: fewer short-lived objects promoted, which is what let the old
// generation start at 32 MiB instead of 40. Measured 2026-12-04 against 2 with 40, interleaved rounds
// (3-4 each, 2 cores, nginx, tmpfs), CPU ratio median and peak RSS: Node 20.20 100,000 x 4 KiB
// one host 0.95, 105 -> 100 MiB; 3 hosts 0.84, 108 -> 102; 2,000 x 1 MiB 0.75, 112 -> 107; 2 x
// 512 MiB 0.87, 74 -> 72; --jobs 2 (20,000 x 4 KiB, 3 hosts) 0.88, 148 -> 147. Node 24.21: one
// host 1.00, 3 hosts 1.05 (0.92-1.14), 1 MiB files 0.89 (129 -> 121 MiB), 512 MiB files 1.00.
// SPEC's 32 bytes per item (peak RSS of a million-URL list on stdin over the median of five
// 10,000-URL runs): Node 20 real run 29.0 and 29.8 (two sets), dry run 23.6 and 24.8 (28.0 and
// 24.5 with 2 and 40); Node 24 26.8 and 22.9. Larger young generations break it: 6 (with 32)
// 32.8 in the dry run, 8 33.6-33.8 (with 40 or 24; 41 in the real run with 40), as the
// million-line run's young generation fills to its limit while a short run's never does.
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
