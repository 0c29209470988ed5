// collectGarbage is how bulkget keeps dropped hash-table arrays and written body chunks out of its
// resident memory. A "major" request that only scavenged (as `{ type: 'major' }` does on Node 20)
// left a million-item run carrying ~20 MiB of dead arrays; this pins the difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { collectGarbage } from '../src/store/reclaim.js';

const MiB = 1 << 20;

async function arrayBuffersAfter(settle: () => void): Promise<number> {
  settle();
  // Backing stores may be released just after the pause: give the sweeper a few turns.
  for (let i = 0; i < 5; i++) await tick();
  return process.memoryUsage().arrayBuffers;
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

  const afterMinor = await arrayBuffersAfter(() => collectGarbage('minor'));
  assert.ok(afterMinor >= 32 * MiB, `a scavenge cannot free an old-generation array (${afterMinor})`);
  const afterMajor = await arrayBuffersAfter(() => collectGarbage('major'));
  assert.ok(afterMajor < withArray - 24 * MiB, `a major collection frees it (${withArray} -> ${afterMajor})`);
});
