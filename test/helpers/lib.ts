// Runs the engine in this process through the public library API, the way most tests now do:
// `download(items, options)` to its end, with every result and the summary.

import { download, type DownloadItem, type DownloadOptions, type ItemResult, type Summary } from '../../src/index.js';
import { exitCodeOf } from '../../src/cli/execute.js';

export interface Fetched {
  summary: Summary;
  results: ItemResult[];
  /** What the CLI would exit with (SPEC exit statuses; no signal involved). */
  code: 0 | 1;
  /** The result of the item whose URL ends with `suffix`. */
  of(suffix: string): ItemResult;
}

export async function fetchAll(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>, options: DownloadOptions): Promise<Fetched> {
  const dl = download(items, { progressInterval: 0, ...options });
  const results: ItemResult[] = [];
  dl.on('result', (r) => results.push(r));
  const summary = await dl.done;
  return {
    summary,
    results,
    code: exitCodeOf(summary, true),
    of(suffix) {
      const r = results.find((x) => x.url.endsWith(suffix));
      if (!r) throw new Error(`no result for ${suffix}: ${results.map((x) => x.url).join(' ')}`);
      return r;
    },
  };
}

/** A list as the CLI reads it from a file: one item per line (blank lines dropped). */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}
