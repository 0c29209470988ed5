// Garbage collection on demand, where V8's own schedule keeps dead memory resident too long: a
// policy of the CLI's process, never of the library (which must not touch process-wide settings).
//
// Buffers (body chunks, socket reads, log writes) are tiny JS objects holding memory outside the
// heap; V8 frees that memory only when it collects the objects, and it schedules collections by
// heap size, blind to what they hold. So the CLI asks: a minor GC every few MiB of body received,
// a full one when external memory has grown (reclaimIfGrown). `gc` is reached through V8's own
// flag, set at run time, because the CLI cannot pass node flags through its shebang portably.

import type { HeapInfo } from 'node:v8';

// node:v8 and node:vm are loaded when first used, not at start: ~1.7 ms of every run under the
// shebang's V8 flags, and a short run ends before the first look at the heap.
const heap = (): HeapInfo => process.getBuiltinModule('node:v8').getHeapStatistics();
import { packageFile } from '../version.js';

let gcFn: ((o?: { type: 'major' | 'minor' }) => void) | null | undefined;

/**
 * `minor` collects only the young generation: enough to free the Buffers of body chunks already
 * written, whose JS objects are tiny (the young generation itself would fill only after
 * gigabytes of body, and until then every chunk's memory stays resident).
 */
export function collectGarbage(type: 'major' | 'minor' = 'major'): void {
  if (gcFn === undefined) {
    try {
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
      gcFn = process.getBuiltinModule('node:vm').runInNewContext('gc') as (o?: { type: 'major' | 'minor' }) => void;
    } catch {
      gcFn = null;
    }
  }
  // A full collection is asked for with no argument: V8 11 (Node 20) reads `{ type: 'major' }`
  // as a young-generation scavenge (seen with --trace-gc), which never frees old arrays.
  if (type === 'major') gcFn?.();
  else gcFn?.({ type: 'minor' });
}

const EXTERNAL_SLACK = 4 << 20;
let externalBase = -1;

/**
 * A full collection once external memory (ArrayBuffers) has grown by 4 MiB since the last one;
 * meant to be called every thousand items or so (it costs ~1 us to ask). 4 MiB for the dry run
 * (its output lines are such Buffers) and the --jobs threads; a download in the main thread
 * allows 16 (execute.ts). The Buffer of a socket read or a log write that happened to be alive across two
 * scavenges sits in the old generation, where V8 looks only when its heap grows, blind to the
 * memory such small objects hold: a million small downloads gathered ~30 MiB of them before this
 * (measured). 4 MiB, not 8: with the shebang's --initial-old-space-size (48 then) a million-line dry run
 * peaked 33 bytes per item above a 10,000-line one with 8 MiB, 27 with 4 (the real run: 29.7).
 */
export function reclaimIfGrown(slack = EXTERNAL_SLACK): void {
  const external = heap().external_memory;
  // A collection V8 ran by itself lowered it: that is the new base.
  if (externalBase < 0 || external < externalBase) externalBase = external;
  else if (external - externalBase > slack) collectNow();
}

function collectNow(): void {
  collectGarbage('major');
  externalBase = heap().external_memory;
}

// Not done in the main process any more: a full collection whenever the heap grew by 8 MiB (the
// --jobs threads still do it, see setupJob). Every full collection
// throws away optimised code that holds an object it found dead ("weak objects" in
// --trace-deopt: ~600 functions deoptimised and compiled again in 100,000 x 4 KiB, where it ran
// 46 of them), so TurboFan never stopped compiling. Measured 2026-12-02, 5 interleaved rounds, Node
// 20.20, -l 64: 100,000 x 4 KiB 6.85 -> 5.68 s, 8.69 -> 6.95 CPU s, peak 89 -> 114 MiB (10,000
// with --jobs 2, the trigger off in the threads too: 2.02 -> 1.66 s, 136 -> 148 MiB); a million 16-byte files 108 -> 82 s, 150 -> 111
// CPU s, 27.7 -> 27.5 bytes per item over 10,000; 200 x 1 MiB and 2 x 512 MiB within noise. V8's
// own schedule (put off to ~40 MiB by the shebang's --initial-old-space-size=40) keeps the heap
// under 150 MiB, the bound.
const JOB_HEAP_SLACK = 8 << 20;

const EXTERNAL_EVERY = 10;
// How often the byte counter is looked at, and after how many bytes received a minor GC runs.
const LOOK_EVERY_MS = 25;
const MINOR_EVERY_BYTES = 16 << 20;

/**
 * A minor collection after every 16 MiB received, and a full one when external memory has grown
 * by `externalSlack` (default 4 MiB), looked at on a timer. The minor GC frees the Buffers of body chunks already written, which V8
 * otherwise keeps until its own schedule comes round. Measured (3-8 interleaved runs, MALLOC_ARENA_MAX=1
 * and the shebang's flags): on Node 24.21, 2 x 512 MiB peaked at 146 MiB RSS without it (V8 13
 * ran 8 scavenges in the whole run) and 110 with it, in 1.4-1.6 s instead of 1.6 (CPU 1.9-2.2 s
 * instead of 2.3); one 256 MiB file 118 -> 104 MiB; 200 x 1 MiB 112 -> 103 MiB at the same CPU.
 * Node 20 was within noise on all three (93-101 MiB either way). Every 32 MiB held 2 x 512 MiB
 * at 131-136 MiB; every 8 MiB at 110. Measured and dropped earlier: one every 4 MiB cost 15% more
 * CPU on 200 x 1 MiB (0.64 s user instead of 0.55). Re-measured 2026-12-03 once big socket
 * reads came back for reuse after their write (src/http/reads.ts), which left far less for it to
 * free: 2 x 512 MiB within noise without it on both Nodes (0.771 vs 0.762 s, 79 vs 77 MiB; Node 24
 * 0.778 vs 0.767 s, 90 vs 93 MiB; --jobs 2 the same), 200 x 1 MiB on Node 24 0.292 s with it and
 * 0.306 without (9 interleaved rounds, Node 20 within noise): kept for that. Returns the stop function.
 */
export function watchMemory(bytesReceived: () => number, o: { heapSlack?: number; externalSlack?: number } = {}): () => void {
  let lastMinor = 0;
  let tick = 0;
  let heapBase = -1;
  const timer = setInterval(() => {
    const bytes = bytesReceived();
    if (bytes - lastMinor >= MINOR_EVERY_BYTES) {
      lastMinor = bytes;
      collectGarbage('minor');
    }
    // External memory only every 10th time: looked at every 25 ms, a stream of bodies (whose
    // promoted socket reads grow it 4 MiB in less) ran a full collection every 40 ms again.
    if (++tick % EXTERNAL_EVERY === 0) reclaimIfGrown(o.externalSlack);
    if (o.heapSlack !== undefined) {
      // A full collection once the heap grew by heapSlack since the last look that found it lower.
      const used = heap().used_heap_size;
      if (heapBase < 0 || used < heapBase) heapBase = used;
      else if (used - heapBase > o.heapSlack) {
        collectNow();
        heapBase = heap().used_heap_size;
      }
    }
  }, LOOK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** A download in the main thread may grow external memory this much before a forced full collection (execute.ts). */
const DOWNLOAD_EXTERNAL_SLACK = 16 << 20;
// With --jobs the main thread only reads, names and hands out items and gathers the results, yet
// its old generation still climbed to the shebang's 40 MiB before V8 collected it (36 MiB
// committed at 100,000 items on Node 24.21, --trace-gc), beside the threads' own heaps. A full collection once
// its heap grew by 16 MiB: 100,000 x 4 KiB with --jobs 2 (Node 20.20, 4 rounds in rotated order)
// peaked at 145 MiB instead of 158, CPU ratio 0.91 (0.87-0.99); 3 hosts 168 -> 155 MiB, 1.06
// (0.76-1.10); Node 24.21 186 -> 182. 12 MiB: 144 MiB, 0.97; 8: 138 MiB at 1.11x CPU.
const JOBS_MAIN_HEAP_SLACK = 16 << 20;

/** What the CLI's main thread watches during a download (watchMemory's options). */
export function downloadWatch(jobs: number): { externalSlack: number; heapSlack?: number } {
  return jobs > 1 ? { externalSlack: DOWNLOAD_EXTERNAL_SLACK, heapSlack: JOBS_MAIN_HEAP_SLACK } : { externalSlack: DOWNLOAD_EXTERNAL_SLACK };
}

/**
 * The same policy on a --jobs thread: each thread is a V8 isolate of its own, holding the body
 * chunks it received (DownloadOptions.jobSetup points here). Measured on Node 24.21, 2 x 512 MiB
 * with --jobs 2: 174 MiB peak RSS without it.
 */
export function setupJob(o: { bytesReceived: () => number }): void {
  // Each thread's heap also waits for ~46 MiB before V8 collects it, and there are N of them:
  // without this, 10,000 x 4 KiB with --jobs 2 peaked at 150-174 MiB (the bench, 5 rounds); with
  // it 136-139, at ~20% more CPU (the full collections cost optimised code, see above).
  watchMemory(o.bytesReceived, { heapSlack: JOB_HEAP_SLACK });
}

/** Where setupJob lives, for DownloadOptions.jobSetup: the built file, or the source under tsx. */
export function jobSetupUrl(): string {
  return (import.meta.url.endsWith('.ts') ? packageFile('src/cli/memory.ts') : packageFile('dist/cli/memory.js')).href;
}
