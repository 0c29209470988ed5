// What a download would do, without doing it (--dry-run): every item with its final path, and
// every invalid line, in input order. Nothing is written and no request is made.

import type { DownloadItem, InvalidInput, Item } from '../types.js';
import { ItemMaker } from '../items/maker.js';
import { NameAllocator } from '../items/names.js';
import { resolveOptions, type DownloadOptions } from './options.js';
import { batchesUntilAborted, toLines } from './sources.js';

const NEVER = new AbortController().signal;

export type Planned = { item: Item } | { invalid: InvalidInput };

export async function* plan(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>, options: DownloadOptions = {}): AsyncGenerator<Planned> {
  const o = resolveOptions(options);
  const maker = new ItemMaker({ layout: o.layout, shard: o.shard, names: new NameAllocator() });
  for await (const batch of batchesUntilAborted(toLines(items), NEVER)) {
    for (const raw of batch) {
      const made = maker.make(raw);
      if (made !== null) yield made;
    }
  }
}
