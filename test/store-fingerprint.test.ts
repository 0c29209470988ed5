import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameAllocator, NameTable } from '../src/items/names.js';
import { hash128 } from '../src/hash.js';

const hash64 = (s: string): [number, number] => {
  const [a, b] = hash128(s);
  return [a, b];
};

test('hash64: deterministic, two unsigned 32-bit lanes, no 64-bit collision on 1M similar strings', () => {
  assert.deepEqual(hash64('https://example.com/a'), hash64('https://example.com/a'));
  assert.notDeepEqual(hash64('a'), hash64('b'));
  assert.notDeepEqual(hash64(''), hash64('\0'));
  const seen = new Set<bigint>();
  const lanesA = new Set<number>();
  for (let i = 0; i < 1_000_000; i++) {
    const [a, b] = hash64(`https://example.com/files/${i}.bin`);
    assert.ok(Number.isInteger(a) && a >= 0 && a < 2 ** 32);
    assert.ok(Number.isInteger(b) && b >= 0 && b < 2 ** 32);
    seen.add((BigInt(a) << 32n) | BigInt(b));
    lanesA.add(a);
  }
  assert.equal(seen.size, 1_000_000);
  // One 32-bit lane alone: about n^2 / 2^33 = 116 collisions expected from a good hash.
  assert.ok(1_000_000 - lanesA.size < 400, `lane A collisions: ${1_000_000 - lanesA.size}`);
});

test('NameTable.claim: new, duplicate, taken', () => {
  const t = new NameTable();
  assert.equal(t.claim('a.txt', 'http://h/1/a.txt'), 'new');
  assert.equal(t.claim('a.txt', 'http://h/1/a.txt'), 'duplicate');
  assert.equal(t.claim('a.txt', 'http://h/2/a.txt'), 'taken');
  assert.equal(t.claim('b.txt', 'http://h/1/a.txt'), 'new');
  assert.equal(t.size, 2);
});

for (const inPlace of [true, false]) {
  test(`NameTable: 1,000,000 distinct claims at most 28 bytes each (${inPlace ? 'grown in place' : 'plain arrays'})`, () => {
    const t = new NameTable(undefined, inPlace);
    for (let i = 0; i < 1_000_000; i++) {
      const r = t.claim(`file-${i}.bin`, `https://example.com/d/${i}/file.bin`);
      if (r !== 'new') assert.fail(`claim ${i} answered ${r}`);
    }
    assert.equal(t.size, 1_000_000);
    assert.ok(t.bytesUsed() / t.size <= 28, `${t.bytesUsed() / t.size} bytes per item`);
    // Everything is still there after all the growing.
    for (let i = 0; i < 1_000_000; i += 997) {
      assert.equal(t.claim(`file-${i}.bin`, `https://example.com/d/${i}/file.bin`), 'duplicate', `file-${i}`);
    }
    assert.equal(t.claim('file-999999.bin', 'https://example.com/d/999999/file.bin'), 'duplicate');
    assert.equal(t.claim('file-500000.bin', 'https://other/'), 'taken');
  });
}

function run(pairs: [string, string][]): (string | null)[] {
  const a = new NameAllocator();
  return pairs.map(([p, u]) => a.assign(p, u));
}

test('NameAllocator: collisions get -1, -2 in input order; duplicates are dropped', () => {
  const input: [string, string][] = [
    ['a.txt', 'http://h1/a.txt'],
    ['a.txt', 'http://h2/a.txt'],
    ['b', 'http://h1/b'],
    ['a.txt', 'http://h3/a.txt'],
    ['a.txt', 'http://h1/a.txt'], // same URL, same path: duplicate
    ['a.txt', 'http://h2/a.txt'], // duplicate of a suffixed one
    ['b', 'http://h2/b'],
    ['a.txt', 'http://h4/a.txt'],
    ['sub/a.txt', 'http://h2/a.txt'], // another path for the same URL: a new item
  ];
  const want = ['a.txt', 'a-1.txt', 'b', 'a-2.txt', null, null, 'b-1', 'a-3.txt', 'sub/a.txt'];
  assert.deepEqual(run(input), want);
  // Same input, same names: nothing depends on anything but input order.
  assert.deepEqual(run(input), want);
});

test('NameAllocator: a literal name already handed out as a suffix is not reused', () => {
  const got = run([
    ['a.txt', 'http://h1/'],
    ['a.txt', 'http://h2/'], // a-1.txt
    ['a-1.txt', 'http://h3/'], // asks for the name h2 got: suffixed in turn
    ['a-2.txt', 'http://h4/'], // free: taken literally
    ['a.txt', 'http://h5/'], // a-1 implied, a-2 held literally: a-3
    ['a-3.txt', 'http://h5/'], // h5 asked for another path before: not a duplicate, suffixed
    ['a-1.txt', 'http://h6/'],
  ]);
  assert.deepEqual(got, ['a.txt', 'a-1.txt', 'a-1-1.txt', 'a-2.txt', 'a-3.txt', 'a-3-1.txt', 'a-1-2.txt']);
});

test('NameAllocator: a literal name that is taken is skipped while suffixing', () => {
  const got = run([
    ['x.bin', 'http://a/'],
    ['x-1.bin', 'http://b/'],
    ['x-2.bin', 'http://c/'],
    ['x.bin', 'http://d/'],
    ['x.bin', 'http://e/'],
    ['x-2.bin', 'http://c/'],
  ]);
  assert.deepEqual(got, ['x.bin', 'x-1.bin', 'x-2.bin', 'x-3.bin', 'x-4.bin', null]);
});

test('NameAllocator: 20,000 URLs all named index.html get distinct names in order', () => {
  const a = new NameAllocator();
  const got: (string | null)[] = [];
  for (let i = 0; i < 20_000; i++) got.push(a.assign('index.html', `http://site${i}.example/`));
  assert.equal(got[0], 'index.html');
  for (let i = 1; i < 20_000; i++) assert.equal(got[i], `index-${i}.html`);
  // Every one of them repeated is recognised as a duplicate, including the late ones.
  for (let i = 0; i < 20_000; i++) assert.equal(a.assign('index.html', `http://site${i}.example/`), null);
  assert.equal(a.assign('index.html', 'http://new.example/'), 'index-20000.html');
});

test('NameAllocator: shared table keeps the bytes per item small when everything collides', () => {
  const t = new NameTable();
  const a = new NameAllocator(t);
  for (let i = 0; i < 200_000; i++) a.assign('download.php', `http://h/download.php?id=${i}`);
  assert.ok(t.bytesUsed() / 200_000 <= 32, `${t.bytesUsed() / 200_000} bytes per item`);
});

test('NameAllocator: tree paths suffix only the last segment', () => {
  const got = run([
    ['h/dir.v2/file', 'http://h/dir.v2/file'],
    ['h/dir.v2/file', 'http://h/dir.v2/file?x=1'],
    ['h/dir.v2/.env', 'http://h/a'],
    ['h/dir.v2/.env', 'http://h/b'],
  ]);
  assert.deepEqual(got, ['h/dir.v2/file', 'h/dir.v2/file-1', 'h/dir.v2/.env', 'h/dir.v2/.env-1']);
});

test('hash128: four unsigned words, no 96-bit collision on 1M similar strings', () => {
  assert.deepEqual(hash128('https://example.com/a'), hash128('https://example.com/a'));
  assert.notDeepEqual(hash128('a'), hash128('a', 1));
  const seen = new Set<string>();
  for (let i = 0; i < 1_000_000; i++) {
    const h = hash128(`https://example.com/files/${i}.bin`);
    for (const w of h) assert.ok(Number.isInteger(w) && w >= 0 && w < 2 ** 32);
    seen.add(`${h[0]},${h[1]},${h[2]}`);
  }
  assert.equal(seen.size, 1_000_000);
});

test('NameAllocator: URLs that differ only late in the query are distinct items', () => {
  // A 24-bit URL fingerprint took these two for one URL: the second was never downloaded.
  const a = new NameAllocator();
  assert.equal(a.assign('download', 'http://h/download?id=1'), 'download');
  assert.equal(a.assign('download', 'http://h/download?id=16889927'), 'download-1');
  assert.equal(a.assign('download', 'http://h/download?id=16889927'), null);
});

test('NameAllocator: 2,000,000 distinct names, none suffixed, at most 32 bytes per item', () => {
  // A 40-bit path key gave about six spurious -1 suffixes in four million names.
  const t = new NameTable();
  const a = new NameAllocator(t);
  const n = 2_000_000;
  for (let i = 0; i < n; i++) {
    const p = `photo_${i.toString(36)}.jpg`;
    const got = a.assign(p, `https://cdn${i % 7}.example/${i}/${p}`);
    if (got !== p) assert.fail(`name ${i}: ${p} became ${got}`);
  }
  assert.ok(t.bytesUsed() / n <= 32, `${t.bytesUsed() / n} bytes per item`);
});

test('NameAllocator: 50,000 URLs with one name: 50,000 distinct names, every repeat dropped', () => {
  const a = new NameAllocator();
  const names = new Set<string>();
  for (let i = 0; i < 50_000; i++) {
    const got = a.assign('file.bin', `https://mirror.example/pool/${i}/file.bin`);
    assert.ok(got !== null && !names.has(got), `item ${i}: ${got}`);
    names.add(got);
  }
  assert.equal(names.size, 50_000);
  for (let i = 0; i < 50_000; i += 7) assert.equal(a.assign('file.bin', `https://mirror.example/pool/${i}/file.bin`), null);
});
