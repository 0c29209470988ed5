// Lines handed over in batches (LINE_BATCHES): the CLI's inputs give the engine every line of a
// decoded piece at once; sync sources are read a bounded number of lines ahead; any other async
// source still one line at a time. Whatever the shape, the lines, their order and their positions
// are the same, and a stop ends the reading at once.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';

import { allLines, readBatches } from '../src/input/reader.js';
import { batchesUntilAborted, toLines } from '../src/engine/sources.js';
import { isBatched, LINE_BATCHES, type RawLine } from '../src/types.js';

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const NEVER = new AbortController().signal;
const line = (i: number): RawLine => ({ text: `http://h/${i}`, source: 's', line: i + 1 });

describe('line batches', () => {
  it('a sync source is read at most 256 lines ahead, in order', async () => {
    let pulled = 0;
    function* gen() {
      for (let i = 0; i < 600; i++) {
        pulled++;
        yield line(i);
      }
    }
    const it = batchesUntilAborted(gen(), NEVER)[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value!.length, 256);
    assert.equal(pulled, 256);
    const rest = [first.value!];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    assert.deepEqual(rest.map((b) => b.length), [256, 256, 88]);
    assert.deepEqual(rest.flat().map((l) => l.line), Array.from({ length: 600 }, (_, i) => i + 1));
  });

  it('a plain async source goes line by line', async () => {
    async function* gen() {
      for (let i = 0; i < 3; i++) yield line(i);
    }
    const got = await all(batchesUntilAborted(gen(), NEVER));
    assert.deepEqual(got, [[line(0)], [line(1)], [line(2)]]);
  });

  it("the CLI's inputs hand over a piece's lines at once, and the same lines one by one", async () => {
    const text = Array.from({ length: 1000 }, (_, i) => `http://h/${i}`).join('\n') + '\n';
    const mk = () => {
      const pt = new PassThrough();
      pt.end(text);
      return allLines({ urls: ['http://h/a'], inputs: [{ path: 'list', stream: pt }] });
    };
    const src = mk();
    assert.ok(isBatched(src));
    // The library's source adapter passes it through untouched.
    assert.equal(toLines(src), src);
    const batches = await all(batchesUntilAborted(src, NEVER));
    // argv, then one batch for the 12 KiB of list (a 16 KiB piece).
    assert.deepEqual(batches.map((b) => b.length), [1, 1000]);
    const flat = await all(mk());
    assert.deepEqual(batches.flat(), flat);
    assert.deepEqual(flat[0], { text: 'http://h/a', source: 'argv', line: 1 });
    assert.deepEqual(flat[1000], { text: 'http://h/999', source: 'list', line: 1000 });
  });

  it('a batch is handed over when its piece arrives, not when more input does', async () => {
    const pt = new PassThrough();
    pt.write('http://h/0\nhttp://h/1\nhttp://h/2');
    const it = readBatches(pt, '-');
    const first = await it.next();
    assert.deepEqual((first.value as RawLine[]).map((l) => l.text), ['http://h/0', 'http://h/1']);
    assert.equal(pt.writableEnded, false);
    pt.end('\n');
    const second = await it.next();
    assert.deepEqual((second.value as RawLine[]).map((l) => l.text), ['http://h/2']);
    assert.equal((await it.next()).done, true);
  });

  it('a stop ends the reading of a pipe that stays open', async () => {
    const pt = new PassThrough();
    pt.write('http://h/0\n');
    const ac = new AbortController();
    const src = allLines({ urls: [], inputs: [{ path: '-', stream: pt }] });
    const seen: string[] = [];
    const done = (async () => {
      for await (const b of batchesUntilAborted(src, ac.signal)) {
        for (const l of b) seen.push(l.text);
        ac.abort();
      }
    })();
    await done; // would wait for ever on the open pipe without the stop
    assert.deepEqual(seen, ['http://h/0']);
    assert.equal(pt.writableEnded, false);
    pt.destroy();
  });

  it('a batched source with no lines ends at once', async () => {
    const src = { [LINE_BATCHES]: () => ({ next: async () => ({ done: true as const, value: undefined }) }), async *[Symbol.asyncIterator]() {} };
    assert.deepEqual(await all(batchesUntilAborted(src, NEVER)), []);
  });
});
