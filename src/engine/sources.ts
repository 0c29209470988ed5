// What a caller gives as items, as the lines the items stage reads: a string is a line of the
// input format, an object with `url` is an item spec, one with `text` is a line that says where it
// came from (the CLI's files and stdin, for reports that name `source:line`).

import { isBatched, LINE_BATCHES, type BatchedLines, type DownloadItem, type RawLine } from '../types.js';

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
export function toLines(items: Iterable<DownloadItem> | AsyncIterable<DownloadItem> | BatchedLines): Iterable<RawLine> | AsyncIterable<RawLine> {
  // Lines already, and in batches (the CLI's inputs): the engine takes them as they are.
  if (isBatched(items)) return items;
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

/** Lines taken at a time from a sync source: bounded read-ahead, one promise per batch. */
const SYNC_BATCH = 256;

/**
 * The lines in batches, ending early when the signal fires. A pipe that stays open (a producer
 * that is still running, a terminal) would otherwise keep the loop waiting for its next line
 * after Ctrl-C, and the run would never get to its report. A batched source (the CLI's inputs)
 * hands over its own batches; a sync one is read SYNC_BATCH lines ahead at most; any other
 * async source one line at a time.
 */
export async function* batchesUntilAborted(
  lines: AsyncIterable<RawLine> | Iterable<RawLine>,
  signal: AbortSignal,
): AsyncGenerator<readonly RawLine[]> {
  if (Symbol.iterator in lines) {
    let batch: RawLine[] = [];
    for (const raw of lines) {
      batch.push(raw);
      if (batch.length === SYNC_BATCH) {
        if (signal.aborted) return;
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !signal.aborted) yield batch;
    return;
  }
  const batched = isBatched(lines);
  const it: AsyncIterator<readonly RawLine[] | RawLine> = batched ? lines[LINE_BATCHES]() : lines[Symbol.asyncIterator]();
  // One wake-up slot rather than Promise.race against a long-lived abort promise: every race
  // would leave a reaction on it, which over ten million lines is memory that never comes back.
  let wake: ((v: 'aborted') => void) | undefined;
  const onAbort = () => wake?.('aborted');
  signal.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for (;;) {
      if (signal.aborted) return;
      const pending = it.next();
      const next = await new Promise<IteratorResult<readonly RawLine[] | RawLine> | 'aborted'>((resolve, reject) => {
        wake = resolve;
        pending.then(resolve, reject);
      });
      wake = undefined;
      if (next === 'aborted') return;
      if (next.done) {
        finished = true;
        return;
      }
      yield batched ? (next.value as readonly RawLine[]) : [next.value as RawLine];
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Not awaited: an async generator's return() queues behind the next() still pending on the
    // open pipe. The process exits after the report; the read is simply abandoned.
    if (!finished) void it.return?.()?.catch(() => undefined);
  }
}
