// What a caller gives as items, as the lines the items stage reads: a string is a line of the
// input format, an object with `url` is an item spec, one with `text` is a line that says where it
// came from (the CLI's files and stdin, for reports that name `source:line`).

import type { DownloadItem, RawLine } from '../types.js';

const SOURCE = 'items';

export async function* toLines(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>): AsyncGenerator<RawLine> {
  let n = 0;
  for await (const it of items as AsyncIterable<DownloadItem>) {
    n++;
    if (typeof it === 'string') yield { text: it, source: SOURCE, line: n };
    else if (it !== null && typeof it === 'object' && 'text' in it) yield it as RawLine;
    else yield { text: '', spec: it, source: SOURCE, line: n };
  }
}
