// What a caller gives as items, as the lines the items stage reads: a string is a line of the
// input format, an object with `url` is an item spec, one with `text` is a line that says where it
// came from (the CLI's files and stdin, for reports that name `source:line`).

import type { DownloadItem, RawLine } from '../types.js';

const SOURCE = 'items';

/**
 * The items as raw lines. The caller's iterator is taken at once, not when the run first pulls
 * (after DEST and its lock are ready): some sources start producing as soon as they exist and
 * drop what nobody listens to yet (a readline interface does).
 */
export function toLines(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>): AsyncIterable<RawLine> {
  const it: Iterator<DownloadItem> | AsyncIterator<DownloadItem> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  return {
    [Symbol.asyncIterator]: () => {
      let n = 0;
      return {
        async next(): Promise<IteratorResult<RawLine>> {
          const r = await it.next();
          if (r.done) return { value: undefined, done: true };
          n++;
          const x = r.value;
          if (typeof x === 'string') return { value: { text: x, source: SOURCE, line: n }, done: false };
          if (x !== null && typeof x === 'object' && 'text' in x) return { value: x as RawLine, done: false };
          return { value: { text: '', spec: x, source: SOURCE, line: n }, done: false };
        },
        async return(): Promise<IteratorResult<RawLine>> {
          await it.return?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}
