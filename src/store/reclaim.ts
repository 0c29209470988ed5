// Frees dropped typed arrays now rather than at V8's leisure.
//
// A growing hash table drops its old arrays; V8 frees such external memory only at its next
// major GC, which on a calm heap may be far away, so a million-item run would carry two or
// three generations of dead arrays in its RSS. SPEC bounds memory per item, so the tables ask
// for a collection after they have dropped a good share of their size (a geometric schedule:
// O(log n) collections per run, a few milliseconds each). `gc` is reached through V8's own flag,
// set at run time, because the CLI cannot pass node flags through its shebang portably.

import v8 from 'node:v8';
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
  gcFn?.({ type });
}
