// What a caller gives as items, as the lines the items stage reads: a string is a line of the
// input format, an object with `url` is an item spec, one with `text` is a line that says where it
// came from (the CLI's files and stdin, for reports that name `source:line`).

import type { DownloadItem, RawLine } from '../types.js';

const SOURCE = 'items';

function lineOf(x: DownloadItem, n: number): RawLine {
  if (typeof x === 'string') return { text: x, source: SOURCE, line: n };
  if (x !== null && typeof x === 'object' && 'text' in x) return x as RawLine;
  return { text: '', spec: x, source: SOURCE, line: n };
}

/**
 * The items as raw lines: sync for a sync source (an array), async for an async one. The caller's
 * iterator is taken at once, not when the run first pulls (after DEST and its lock are ready):
 * some sources start producing as soon as they exist and drop what nobody listens to yet (a
 * readline interface does).
 */
export function toLines(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>): Iterable<RawLine> | AsyncIterable<RawLine> {
  let n = 0;
  if (Symbol.asyncIterator in items) {
    const it = items[Symbol.asyncIterator]();
    const map = (r: IteratorResult<DownloadItem>): IteratorResult<RawLine> => (r.done ? { value: undefined, done: true } : { value: lineOf(r.value, ++n), done: false });
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => it.next().then(map),
        return: async () => {
          await it.return?.();
          return { value: undefined, done: true };
        },
      }),
    };
  }
  const it = items[Symbol.iterator]();
  return {
    [Symbol.iterator]: () => ({
      next: (): IteratorResult<RawLine> => {
        const r = it.next();
        return r.done ? { value: undefined, done: true } : { value: lineOf(r.value, ++n), done: false };
      },
      return: (): IteratorResult<RawLine> => {
        it.return?.();
        return { value: undefined, done: true };
      },
    }),
  };
}
