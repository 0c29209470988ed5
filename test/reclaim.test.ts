// collectGarbage is how bulkget keeps dropped hash-table arrays and written body chunks out of its
// resident memory. A "major" request that only scavenged (as `{ type: 'major' }` does on Node 20)
// left a million-item run carrying ~20 MiB of dead arrays; this pins the difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { collectGarbage, downloadWatch, reclaimIfGrown, watchMemory } from '../src/cli/memory.js';

const MiB = 1 << 20;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the full collections asked for by gc() (forced) from now on. */
async function forcedMajorCounter(): Promise<{ count: () => number; stop: () => void }> {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const d = (e as { detail?: { kind?: number; flags?: number } }).detail;
      if (d?.kind === constants.NODE_PERFORMANCE_GC_MAJOR && ((d.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0) n++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return { count: () => n, stop: () => obs.disconnect() };
}

/** ArrayBuffer bytes once they fall below `below` (polled for up to 3 s), or as they stay. */
async function arrayBuffersAfter(settle: () => void, below: number, waitMs: number): Promise<number> {
  settle();
  // Backing stores are released by a sweeper thread just after the pause; on a loaded machine
  // that can take a while.
  const until = Date.now() + waitMs;
  for (;;) {
    const now = process.memoryUsage().arrayBuffers;
    if (now < below || Date.now() >= until) return now;
    await delay(20);
  }
}

test('collectGarbage: major frees an array that outlived the young generation; minor does not', async () => {
  let held: Uint8Array | undefined = new Uint8Array(32 * MiB);
  held.fill(1);
  // Two scavenges while it is still referenced move its (tiny) JS object to the old generation,
  // where only a full collection can find it dead.
  collectGarbage('minor');
  collectGarbage('minor');
  const withArray = process.memoryUsage().arrayBuffers;
  assert.ok(withArray >= 32 * MiB, `the array is counted (${withArray})`);
  held = undefined;

  // Given a moment less: V8 may run a full collection of its own when left long enough.
  const afterMinor = await arrayBuffersAfter(() => collectGarbage('minor'), withArray - 24 * MiB, 100);
  // Node 20's V8 keeps the array through a scavenge, which is what tells the two kinds apart;
  // Node 24's frees an unreferenced large buffer on any collection, so there only `major` is held
  // to its promise.
  if (process.versions.node.startsWith('20.')) {
    assert.ok(afterMinor >= 32 * MiB, `a scavenge cannot free an old-generation array (${afterMinor})`);
  }
  const afterMajor = await arrayBuffersAfter(() => collectGarbage('major'), withArray - 24 * MiB, 3000);
  assert.ok(afterMajor < withArray - 24 * MiB, `a major collection frees it (${withArray} -> ${afterMajor})`);
});

test('watchMemory: a minor collection once 16 MiB more were received, none while nothing comes', async () => {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  const minors: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minors.push(e.startTime);
  });
  obs.observe({ entryTypes: ['gc'] });
  let bytes = 0;
  const stop = watchMemory(() => bytes);
  try {
    await wait(150);
    const idle = minors.length;
    bytes += 16 << 20;
    await wait(150);
    const afterBody = minors.length - idle;
    assert.ok(afterBody >= 1, `minor GCs: ${idle} while idle, ${afterBody} after 16 MiB`);
    bytes += 1 << 20;
    await wait(150);
    // 1 MiB more is not enough for another.
    assert.ok(minors.length - idle - afterBody <= idle + 1, `minor GCs: ${minors.length} in all`);
  } finally {
    stop();
    obs.disconnect();
  }
});

test('reclaimIfGrown: a full collection once external memory grew more than 4 MiB, none before', async () => {
  const majors = await forcedMajorCounter();
  const held: Uint8Array[] = [];
  try {
    reclaimIfGrown(); // the base
    await wait(50);
    const before = majors.count();
    held.push(new Uint8Array(3 * MiB).fill(1));
    reclaimIfGrown();
    await wait(50);
    assert.equal(majors.count(), before, 'no full collection for 3 MiB');
    held.push(new Uint8Array(3 * MiB).fill(1));
    reclaimIfGrown();
    await wait(50);
    assert.equal(majors.count(), before + 1, 'one full collection once 6 MiB more are held');
  } finally {
    majors.stop();
  }
  assert.equal(held.length, 2);
});

/** Waits (1 s at most) until external memory reads the same twice, 50 ms apart. */
async function settledExternal(): Promise<void> {
  const { getHeapStatistics } = await import('node:v8');
  let last = -1;
  for (let i = 0; i < 20; i++) {
    const now = getHeapStatistics().external_memory;
    if (now === last) return;
    last = now;
    await wait(50);
  }
}

// A download's watcher (execute.ts) allows 16 MiB: a forced full collection deoptimised code
// each time it ran there. The dry run and the --jobs threads keep 4.
test('watchMemory: external memory grown by 12 MiB forces a full collection, not with externalSlack 16 MiB', async () => {
  for (const externalSlack of [undefined, 16 * MiB]) {
    collectGarbage('major');
    // What the collection freed leaves the count a moment later (a sweeper thread): waited for,
    // so that the base the watcher measures growth from (module-wide) is set below it here.
    await settledExternal();
    reclaimIfGrown(Infinity);
    const majors = await forcedMajorCounter();
    const stop = watchMemory(() => 0, { externalSlack });
    // 12 MiB against the default 4: the earlier tests' 6 MiB may still leave the count after the
    // base is taken (their backing stores are freed on a sweeper thread, late on a loaded machine:
    // with 6 MiB here it once saw no collection in 3 s under npm test).
    const held: Uint8Array[] = [new Uint8Array(12 * MiB).fill(1)];
    try {
      // The watcher looks at external memory every 250 ms; a loaded machine delays its timer, so
      // the default case waits up to 3 s for the collection, the other a whole second for none.
      const until = Date.now() + (externalSlack === undefined ? 3000 : 1000);
      while (Date.now() < until && majors.count() === 0) await wait(50);
      const forced = majors.count();
      if (externalSlack === undefined) assert.ok(forced >= 1, `default slack, forced full collections: ${forced}`);
      else assert.equal(forced, 0, 'a 16 MiB slack forces none for 12 MiB');
    } finally {
      stop();
      majors.stop();
    }
    assert.equal(held.length, 1);
  }
});

// A forced full collection deoptimises the code that holds objects it finds dead, so heap growth
// alone is left to V8's own schedule (memory.ts says what that was measured to save).
test('watchMemory: no forced full collection when only the heap grows (no external memory)', async () => {
  const majors = await forcedMajorCounter();
  const stop = watchMemory(() => 0);
  let held: Array<{ i: number; s: string }> = [];
  try {
    await wait(120);
    const idle = majors.count();
    // Plain objects on the heap, no external memory: ~20 MiB, more than the 8 MiB that once
    // forced a collection.
    held = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `item ${i}` }));
    await wait(300);
    assert.equal(majors.count(), idle, `forced full collections: ${idle} while idle, ${majors.count()} after the heap grew`);
  } finally {
    stop();
    majors.stop();
  }
  assert.equal(held.length, 400_000);
});

test('watchMemory with heapSlack (the --jobs threads): a full collection once the heap grew more than that, none while it stays', async () => {
  // The heap first cleared of what earlier tests left (the 400,000 objects above): else V8 may
  // collect that while the objects below are made, and the heap then looks no bigger than before.
  collectGarbage('major');
  const majors = await forcedMajorCounter();
  const stop = watchMemory(() => 0, { heapSlack: 8 * MiB });
  let held: Array<{ i: number; s: string }> = [];
  try {
    await wait(120);
    const idle = majors.count();
    held = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `item ${i}` }));
    await wait(120);
    assert.ok(majors.count() > idle, `forced full collections: ${idle} while idle, ${majors.count()} after the heap grew`);
    const after = majors.count();
    await wait(120);
    assert.equal(majors.count(), after, 'none more while the heap stays as it is');
  } finally {
    stop();
    majors.stop();
  }
  assert.equal(held.length, 400_000);
});

test('downloadWatch: a download allows 16 MiB of external growth; with --jobs the main thread also collects once its heap grew 16 MiB', () => {
  for (const [jobs, want] of [
    [1, { externalSlack: 16 * MiB }],
    [2, { externalSlack: 16 * MiB, heapSlack: 16 * MiB }],
    [16, { externalSlack: 16 * MiB, heapSlack: 16 * MiB }],
  ] as const) assert.deepEqual(downloadWatch(jobs), want, `--jobs ${jobs}`);
});
