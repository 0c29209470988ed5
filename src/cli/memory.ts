// Garbage collection on demand, where V8's own schedule keeps dead memory resident too long: a
// policy of the CLI's process, never of the library (which must not touch process-wide settings).
//
// Buffers (body chunks, socket reads, log writes) are tiny JS objects holding memory outside the
// heap; V8 frees that memory only when it collects the objects, and it schedules collections by
// heap size, blind to what they hold. So the CLI asks: a minor GC every few MiB of body received,
// a full one when external memory has grown (reclaimIfGrown). `gc` is reached through V8's own
// flag, set at run time, because the CLI cannot pass node flags through its shebang portably.

import v8, { getHeapStatistics } from 'node:v8';
import vm from 'node:vm';

let gcFn: ((o?: { type: 'major' | 'minor' }) => void) | null | undefined;

/**
 * `minor` collects only the young generation: enough to free the Buffers of body chunks already
 * written, whose JS objects are tiny (the young generation itself would fill only after
 * gigabytes of body, and until then every chunk's memory stays resident).
 */
export function collectGarbage(type: 'major' | 'minor' = 'major'): void {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as (o?: { type: 'major' | 'minor' }) => void;
    } catch {
      gcFn = null;
    }
  }
  // A full collection is asked for with no argument: V8 11 (Node 20) reads `{ type: 'major' }`
  // as a young-generation scavenge (seen with --trace-gc), which never frees old arrays.
  if (type === 'major') gcFn?.();
  else gcFn?.({ type: 'minor' });
}

const EXTERNAL_SLACK = 8 << 20;
let externalBase = -1;

/**
 * A full collection once external memory (ArrayBuffers) has grown by EXTERNAL_SLACK since the
 * last one; meant to be called every thousand items or so (it costs ~1 us to ask). The Buffer of a
 * socket read or a log write that happened to be alive across two scavenges sits in the old
 * generation, where V8 looks only when its heap grows, blind to the memory such small objects
 * hold: a million small downloads gathered ~30 MiB of them before this (measured).
 */
export function reclaimIfGrown(): void {
  const external = getHeapStatistics().external_memory;
  if (externalBase < 0 || external < externalBase) {
    externalBase = external;
    return;
  }
  if (external - externalBase > EXTERNAL_SLACK) {
    collectGarbage('major');
    externalBase = getHeapStatistics().external_memory;
  }
}

const MINOR_EVERY = 4 << 20; // body bytes between minor GCs
// How often the byte counter is looked at. A 50 MiB download (test/memory.test.ts) peaked at
// 77-80 MiB RSS looking every 25 ms, 68-70 MiB every 10 ms, 64-66 MiB with a GC called from the
// write path itself (before the engine became a library that must not force collections).
const LOOK_EVERY_MS = 10;

/**
 * Watches a run's byte counter on a timer: a minor GC after every few MiB received (written body
 * chunks are garbage at once, but their tiny JS objects let the young generation fill only after
 * gigabytes, and until then every chunk stays resident: a 50 MiB download peaked at 140 MiB RSS),
 * and a full one when external memory has grown. Returns the stop function.
 */
export function watchMemory(stats: { bytes: number }): () => void {
  let lastBytes = stats.bytes;
  let ticks = 0;
  const timer = setInterval(() => {
    if (stats.bytes - lastBytes >= MINOR_EVERY) {
      lastBytes = stats.bytes;
      collectGarbage('minor');
    }
    if (++ticks % 10 === 0) reclaimIfGrown();
  }, LOOK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
