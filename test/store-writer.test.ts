// The helper thread that writes small finished files (src/store/writer.ts): every byte in place
// under its final name, errors per file, no .part left behind, nothing written through a link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SmallFileWriter } from '../src/store/writer.js';
import { BodyBudget, BodyFile } from '../src/store/sink.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('writer');

/** A body as a socket would deliver it: several chunks, views on bigger buffers. */
function chunked(text: string, pieces: number): Buffer[] {
  const whole = Buffer.from(`<<${text}>>`);
  const inner = whole.subarray(2, whole.length - 2);
  const out: Buffer[] = [];
  const step = Math.ceil(inner.length / pieces);
  for (let i = 0; i < inner.length; i += step) out.push(inner.subarray(i, Math.min(inner.length, i + step)));
  return out;
}

test('writer: many files in batches, each whole under its final name, no .part left', async () => {
  const dest = tmp();
  const w = new SmallFileWriter({ inlineFirst: 0 });
  const texts = Array.from({ length: 500 }, (_, i) => `file ${i} `.repeat(1 + (i % 300)));
  await Promise.all(
    texts.map((t, i) => {
      const chunks = chunked(t, 1 + (i % 4));
      const abs = join(dest, `f${i}.txt`);
      // Every tenth file goes to another final name, as a Content-Disposition name would.
      const target = i % 10 === 0 ? join(dest, `renamed-${i}.txt`) : abs;
      return w.put(abs + '.part', target, chunks, Buffer.byteLength(t));
    }),
  );
  await w.close();
  for (let i = 0; i < texts.length; i++) {
    const name = i % 10 === 0 ? `renamed-${i}.txt` : `f${i}.txt`;
    assert.equal(readFileSync(join(dest, name), 'utf8'), texts[i], name);
  }
  assert.equal(readdirSync(dest).length, texts.length);
  assert.equal(readdirSync(dest).filter((n) => n.endsWith('.part')).length, 0);
});

test('writer: batches bigger than one message and an empty file', async () => {
  const dest = tmp();
  const w = new SmallFileWriter({ inlineFirst: 0 });
  const big = Buffer.alloc(200 << 10, 7);
  const jobs = [];
  for (let i = 0; i < 12; i++) jobs.push(w.put(join(dest, `b${i}.part`), join(dest, `b${i}`), [big], big.length));
  jobs.push(w.put(join(dest, 'empty.part'), join(dest, 'empty'), [], 0));
  await Promise.all(jobs);
  await w.close();
  for (let i = 0; i < 12; i++) assert.deepEqual(readFileSync(join(dest, `b${i}`)), big);
  assert.equal(readFileSync(join(dest, 'empty')).length, 0);
});

test('writer: a failing file rejects with its code, leaves no .part, and the others still land', async () => {
  const dest = tmp();
  const w = new SmallFileWriter({ inlineFirst: 0 });
  mkdirSync(join(dest, 'gone'));
  // The target folder disappears before the thread gets there: the rename fails.
  const good = w.put(join(dest, 'ok.txt.part'), join(dest, 'ok.txt'), [Buffer.from('fine')], 4);
  const bad = w.put(join(dest, 'x.txt.part'), join(dest, 'gone', 'sub', 'x.txt'), [Buffer.from('lost')], 4);
  await assert.rejects(bad, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ENOENT');
    return true;
  });
  await good;
  await w.close();
  assert.equal(readFileSync(join(dest, 'ok.txt'), 'utf8'), 'fine');
  assert.equal(existsSync(join(dest, 'x.txt.part')), false);
  assert.equal(existsSync(join(dest, 'x.txt')), false);
  rmSync(join(dest, 'gone'), { recursive: true });
});

test('writer: a planted .part symlink is replaced, never written through', async () => {
  const root = tmp();
  const dest = join(root, 'dest');
  mkdirSync(dest);
  writeFileSync(join(root, 'victim.txt'), 'precious');
  symlinkSync(join(root, 'victim.txt'), join(dest, 'a.bin.part'));
  const w = new SmallFileWriter({ inlineFirst: 0 });
  await w.put(join(dest, 'a.bin.part'), join(dest, 'a.bin'), [Buffer.from('downloaded')], 10);
  await w.close();
  assert.equal(readFileSync(join(root, 'victim.txt'), 'utf8'), 'precious');
  assert.ok(lstatSync(join(dest, 'a.bin')).isFile());
  assert.equal(readFileSync(join(dest, 'a.bin'), 'utf8'), 'downloaded');
});

test('writer: close waits for files still in the thread', async () => {
  const dest = tmp();
  const w = new SmallFileWriter({ inlineFirst: 0 });
  let settled = 0;
  for (let i = 0; i < 50; i++) void w.put(join(dest, `c${i}.part`), join(dest, `c${i}`), [Buffer.from(String(i))], String(i).length).then(() => settled++);
  await w.close();
  assert.equal(readdirSync(dest).length, 50);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, 50);
});

test('writer: a thread that dies mid-batch loses nothing: its files are written here instead', async () => {
  const dest = tmp();
  const w = new SmallFileWriter({ inlineFirst: 0 });
  const jobs = [];
  for (let i = 0; i < 20; i++) jobs.push(w.put(join(dest, `d${i}.part`), join(dest, `d${i}`), [Buffer.from(`body ${i}`)], `body ${i}`.length));
  // The batch is handed over on the next turn; the thread is gone before it can answer.
  await (w as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await Promise.all(jobs);
  await w.close();
  for (let i = 0; i < 20; i++) assert.equal(readFileSync(join(dest, `d${i}`), 'utf8'), `body ${i}`);
  assert.deepEqual(readdirSync(dest).filter((n) => n.endsWith('.part')), []);
});

test('writer: the first files are written inline, and the thread starts only for a run that goes on', async () => {
  const dest = tmp();
  const w = new SmallFileWriter({ inlineFirst: 3 });
  const thread = () => (w as unknown as { worker: unknown }).worker;
  for (let i = 0; i < 3; i++) {
    const put = w.put(join(dest, `e${i}.part`), join(dest, `e${i}`), [Buffer.from(`early ${i}`)], `early ${i}`.length);
    // In place before the promise is even awaited: no thread round trip.
    assert.equal(readFileSync(join(dest, `e${i}`), 'utf8'), `early ${i}`);
    await put;
  }
  assert.equal(thread(), undefined, 'no thread for the first files');
  await w.put(join(dest, 'late.part'), join(dest, 'late'), [Buffer.from('late')], 4);
  assert.ok(thread(), 'the thread took the next one');
  await w.close();
  assert.deepEqual(readdirSync(dest).sort(), ['e0', 'e1', 'e2', 'late']);
});

test('streamed bodies: a body may hold up to 1 MiB behind its write, 16 MiB shared by all (a --jobs job its share), never less than 128 KiB each', async () => {
  const budget = new BodyBudget();
  const table: [streams: number, bytes: number][] = [[0, 1 << 20], [1, 1 << 20], [16, 1 << 20], [32, 512 << 10], [128, 128 << 10], [1000, 128 << 10]];
  for (const [streams, bytes] of table) {
    budget.streaming = streams;
    assert.equal(budget.limit(), bytes, `${streams} streams`);
  }
  // Each job of a --jobs run has its share: two jobs, 8 MiB each.
  const half = new BodyBudget(1 / 2);
  for (const [streams, bytes] of [[1, 1 << 20], [8, 1 << 20], [16, 512 << 10], [64, 128 << 10]] as const) {
    half.streaming = streams;
    assert.equal(half.limit(), bytes, `${streams} streams, half the budget`);
  }
  // One body alone: while its first write is out, it goes on taking chunks until 1 MiB waits, then
  // asks to be paused; once the write is done it may go on, and every byte lands in order.
  const dir = tmp();
  const own = new BodyBudget();
  const counters: [{ bytes: number; awaited: number }, { bytes: number }] = [{ bytes: 0, awaited: 0 }, { bytes: 0 }];
  const body = new BodyFile({ part: join(dir, 'big.part'), offset: 0, expectedTotal: -1, gather: false, maxFilesize: 0, budget: own, counters });
  body.open();
  let resumed = 0;
  body.attach({ resume: () => resumed++, abort: (err) => assert.fail(err) });
  const chunk = (i: number) => Buffer.alloc(64 << 10, i);
  assert.equal(body.write(chunk(0)), true); // goes out at once
  let taken = 0;
  let i = 1;
  while (body.write(chunk(i++))) taken++;
  assert.equal(taken, 15, 'paused once 16 x 64 KiB wait behind the write');
  await body.end();
  assert.ok(resumed >= 1);
  const got = readFileSync(join(dir, 'big.part'));
  assert.equal(got.length, i * (64 << 10));
  for (let k = 0; k < i; k++) assert.equal(got[k * (64 << 10)], k, `chunk ${k} in place`);
});

test('BodyFile: the run\'s `awaited` holds what an announced body is still due, and none of it once the body is untracked', () => {
  const dir = tmp();
  const run = { bytes: 0, awaited: 0 };
  const item = { bytes: 0 };
  // A resumed body: 200 of 1,000 bytes on disk, 800 due.
  const a = new BodyFile({ part: join(dir, 'a.part'), offset: 200, expectedTotal: 1000, gather: true, maxFilesize: 0, budget: new BodyBudget(), counters: [run, item] });
  assert.equal(run.awaited, 800);
  a.write(Buffer.alloc(300));
  assert.equal(run.awaited, 500);
  // Unknown length: nothing announced, nothing counted.
  const b = new BodyFile({ part: join(dir, 'b.part'), offset: 0, expectedTotal: -1, gather: true, maxFilesize: 0, budget: new BodyBudget(), counters: [run, item] });
  b.write(Buffer.alloc(4000));
  assert.equal(run.awaited, 500);
  // More than announced (a server that lies): never below what the others are due.
  a.write(Buffer.alloc(900));
  assert.equal(run.awaited, 0);
  const c = new BodyFile({ part: join(dir, 'c.part'), offset: 0, expectedTotal: 100, gather: true, maxFilesize: 0, budget: new BodyBudget(), counters: [run, item] });
  c.write(Buffer.alloc(40));
  assert.equal(run.awaited, 60);
  c.untrack(); // cut short: the rest is not coming
  c.untrack();
  assert.equal(run.awaited, 0);
  assert.equal(run.bytes, 5240);
});
