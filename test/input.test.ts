import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';

import { checkUrl, parseLine } from '../src/items/lines.js';
import { readLines, openInputFiles, allLines, InputError, MAX_LINE } from '../src/input/reader.js';
import {
  POP20,
  CodeError,
  CodeConflictError,
  expandCodeArgs,
  everyCode,
  loadBundledCodes,
  selectCodes,
  flagUrl,
  flagOut,
} from '../src/input/countries.js';
import { parseShard, shardOf, fnv1a32 } from '../src/items/shard.js';
import { fmix32 } from '../src/hash.js';
import type { RawLine } from '../src/types.js';

/** What the tables say of a line: an entry's URL as text (the parser hands out URL objects). */
type Seen = { kind: 'skip' } | { kind: 'invalid'; reason: string } | { kind: 'entry'; url: string; out?: string; sha256?: string; size?: number };
function seen(text: string): Seen {
  const p = parseLine(text);
  return p.kind === 'entry' ? { ...p, url: p.url.href } : p;
}

const H64 = 'ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789';

describe('parseLine', () => {
  const cases: Array<[string, string, Seen]> = [
    ['plain URL', 'https://example.com/a.gif', { kind: 'entry', url: 'https://example.com/a.gif' }],
    ['URL, surrounding blanks', '  http://example.com/x  ', { kind: 'entry', url: 'http://example.com/x' }],
    ['upper-case scheme', 'HTTPS://Example.com/x', { kind: 'entry', url: 'HTTPS://Example.com/x' }],
    ['URL + path', 'http://h/a b/c.txt', { kind: 'entry', url: 'http://h/a', out: 'b/c.txt' }],
    ['URL + path with spaces', 'http://h/a   my file.txt  ', { kind: 'entry', url: 'http://h/a', out: 'my file.txt' }],
    ['tab separator', 'http://h/a\tdir/f.bin', { kind: 'entry', url: 'http://h/a', out: 'dir/f.bin' }],
    ['CRLF', 'http://h/a\r', { kind: 'entry', url: 'http://h/a' }],
    ['CRLF with path', 'http://h/a out.txt\r', { kind: 'entry', url: 'http://h/a', out: 'out.txt' }],
    ['with port and query', 'http://127.0.0.1:8001/x?y=1', { kind: 'entry', url: 'http://127.0.0.1:8001/x?y=1' }],
    ['comment', '# a comment', { kind: 'skip' }],
    ['indented comment', '   #http://h/a', { kind: 'skip' }],
    ['blank', '', { kind: 'skip' }],
    ['whitespace only', ' \t ', { kind: 'skip' }],
    ['bare CR', '\r', { kind: 'skip' }],
    [
      'JSON full',
      `{"url": "https://h/a", "out": "x y/z.bin", "sha256": "${H64}", "size": 123}`,
      { kind: 'entry', url: 'https://h/a', out: 'x y/z.bin', sha256: H64.toLowerCase(), size: 123 },
    ],
    ['JSON url only', '{"url":"http://h/a"}', { kind: 'entry', url: 'http://h/a' }],
    ['JSON size 0', '{"url":"http://h/a","size":0}', { kind: 'entry', url: 'http://h/a', size: 0 }],
    ['JSON CRLF', '{"url":"http://h/a","out":"o"}\r', { kind: 'entry', url: 'http://h/a', out: 'o' }],
    ['JSON extra keys ignored (--save-failed output)', '{"url":"http://h/a","error":"HTTP 500"}', { kind: 'entry', url: 'http://h/a' }],
    ['JSON null optional', '{"url":"http://h/a","out":null}', { kind: 'entry', url: 'http://h/a' }],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => assert.deepEqual(seen(text), want.kind === 'entry' ? { ...want, url: new URL(want.url).href } : want));
  }

  const invalid: Array<[string, string, RegExp]> = [
    ['bad JSON', '{"url": "http://h/a",}', /^bad JSON: /],
    ['JSON array-ish', '{not json', /^bad JSON: /],
    ['JSON missing url', '{"out":"x"}', /^JSON line has no "url"$/],
    ['JSON url not string', '{"url": 5}', /^"url" must be a string$/],
    ['JSON out not string', '{"url":"http://h/a","out":7}', /^"out" must be a string$/],
    ['JSON bad url', '{"url":"ftp://h/a"}', /^unsupported scheme "ftp:"/],
    ['JSON sha256 short', '{"url":"http://h/a","sha256":"abc"}', /^"sha256" must be 64 hex digits$/],
    ['JSON sha256 not hex', `{"url":"http://h/a","sha256":"${'g'.repeat(64)}"}`, /^"sha256" must be 64 hex digits$/],
    ['JSON sha256 number', '{"url":"http://h/a","sha256":12}', /^"sha256" must be 64 hex digits$/],
    ['JSON negative size', '{"url":"http://h/a","size":-1}', /^"size" must be a non-negative integer$/],
    ['JSON fractional size', '{"url":"http://h/a","size":1.5}', /^"size" must be a non-negative integer$/],
    ['JSON string size', '{"url":"http://h/a","size":"12"}', /^"size" must be a non-negative integer$/],
    ['JSON unsafe size', '{"url":"http://h/a","size":9007199254740993}', /^"size" must be a non-negative integer$/],
    ['ftp', 'ftp://h/a', /^unsupported scheme "ftp:" \(only http and https\)$/],
    ['file', 'file:///etc/passwd', /^unsupported scheme "file:"/],
    ['data', 'data:text/plain,hi', /^unsupported scheme "data:"/],
    ['javascript', 'javascript:alert(1)', /^unsupported scheme "javascript:"/],
    ['mailto', 'mailto:a@b.c', /^unsupported scheme "mailto:"/],
    ['relative path', 'images/a.gif', /^not an absolute http\(s\) URL$/],
    ['protocol-relative', '//h/a.gif', /^not an absolute http\(s\) URL$/],
    ['http:// with no host', 'http://', /^not an absolute http\(s\) URL$/],
    ['http:/// with no host', 'http:///a', /^URL has no host$/],
    ['http: without slashes', 'http:example.com/a', /^not an absolute http\(s\) URL$/],
    ['http: with backslashes', 'http:\\\\h/a', /^not an absolute http\(s\) URL$/],
    ['upper-case, no host', 'HTTPS:///a', /^URL has no host$/],
    ['port out of range', 'http://h:99999/a', /^not an absolute http\(s\) URL$/],
    ['empty host with port', 'http://:80/a', /^not an absolute http\(s\) URL$/],
    ['unclosed IPv6', 'http://[::1/a', /^not an absolute http\(s\) URL$/],
    ['scheme only', 'https:', /^not an absolute http\(s\) URL$/],
  ];
  for (const [name, text, want] of invalid) {
    it(`invalid: ${name}`, () => {
      const got = parseLine(text);
      assert.equal(got.kind, 'invalid');
      assert.match((got as { reason: string }).reason, want);
    });
  }

  it('a JSON object is not an array or a scalar', () => {
    // Only lines starting with "{" are JSON; "[...]" is read as a (bad) URL.
    assert.deepEqual(parseLine('[1]'), { kind: 'invalid', reason: 'not an absolute http(s) URL' });
  });

  it('checkUrl', () => {
    assert.equal((checkUrl('https://example.com/') as URL).href, 'https://example.com/');
    assert.equal((checkUrl('http://[::1]:8080/x') as URL).href, 'http://[::1]:8080/x');
    assert.equal(checkUrl('ftp://x/'), 'unsupported scheme "ftp:" (only http and https)');
    assert.equal(checkUrl('nope'), 'not an absolute http(s) URL');
  });
});

async function collect(stream: Readable, source = 'f'): Promise<RawLine[]> {
  const out: RawLine[] = [];
  for await (const l of readLines(stream, source)) out.push(l);
  return out;
}
const texts = (ls: RawLine[]): string[] => ls.map((l) => l.text);
const chunks = (...parts: Array<string | Buffer>): Readable =>
  Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

describe('readLines', () => {
  it('numbers every line, blank and comment lines included', async () => {
    const got = await collect(chunks('a\n\n# c\nb\n'), 'list.txt');
    assert.deepEqual(got, [
      { text: 'a', source: 'list.txt', line: 1 },
      { text: '', source: 'list.txt', line: 2 },
      { text: '# c', source: 'list.txt', line: 3 },
      { text: 'b', source: 'list.txt', line: 4 },
    ]);
  });
  it('a big chunk read piece by piece: lines and multi-byte characters across 16 KiB boundaries', async () => {
    // readLines decodes a chunk 16 KiB at a time; nothing at those seams may change the text.
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 150_000; i++) {
      // Lines of varied length, with 2-, 3- and 4-byte characters spread through them.
      const l = `http://h/${i}/` + 'é€😀abc'.repeat(i % 97) + 'x'.repeat(i % 13);
      lines.push(l);
      size += Buffer.byteLength(l) + 1;
    }
    const buf = Buffer.from(lines.join('\n') + '\n');
    // One chunk of everything, then the same as a string stream (pieces cut in UTF-16 units).
    assert.deepEqual(texts(await collect(Readable.from([buf]))), lines);
    assert.deepEqual(texts(await collect(Readable.from([buf.toString('utf8')]))), lines);
    // A 3-byte character exactly astride the first seam.
    const seam = Buffer.concat([Buffer.from('a'.repeat(16383)), Buffer.from('€\nz\n')]);
    assert.deepEqual(texts(await collect(Readable.from([seam]))), ['a'.repeat(16383) + '€', 'z']);
  });
  it('drops a BOM at the start only', async () => {
    assert.deepEqual(texts(await collect(chunks('\uFEFFa\n\uFEFFb\n'))), ['a', '\uFEFFb']);
  });
  it('drops a BOM split across chunks', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    assert.deepEqual(texts(await collect(chunks(bom.subarray(0, 1), Buffer.concat([bom.subarray(1), Buffer.from('x\n')])))), ['x']);
  });
  it('strips CR of CRLF', async () => {
    assert.deepEqual(texts(await collect(chunks('a\r\nb\r', '\nc\r\n'))), ['a', 'b', 'c']);
  });
  it('yields a last line with no newline, and nothing after a final newline', async () => {
    assert.deepEqual(texts(await collect(chunks('a\nb'))), ['a', 'b']);
    assert.deepEqual(texts(await collect(chunks('a\nb\n'))), ['a', 'b']);
    assert.deepEqual(texts(await collect(chunks(''))), []);
    assert.deepEqual(texts(await collect(chunks('\n'))), ['']);
  });
  it('joins lines split across chunks', async () => {
    assert.deepEqual(texts(await collect(chunks('htt', 'p://h/', 'a\nhttp', '://h/b', '\n'))), ['http://h/a', 'http://h/b']);
  });
  it('decodes multi-byte UTF-8 split across chunks', async () => {
    const b = Buffer.from('http://h/é€😀 ü\n');
    // Cut inside every multi-byte character.
    const parts: Buffer[] = [];
    for (let i = 0; i < b.length; i += 1) parts.push(b.subarray(i, i + 1));
    assert.deepEqual(texts(await collect(Readable.from(parts))), ['http://h/é€😀 ü']);
  });
  it('accepts string chunks', async () => {
    assert.deepEqual(texts(await collect(Readable.from(['a\nb', 'c\n'], { objectMode: true }))), ['a', 'bc']);
  });
  it('yields a line over 1 MiB without its text, marked overlong, and goes on', async () => {
    const big = 'x'.repeat(MAX_LINE + 10);
    const parts = ['ok1\n', big.slice(0, 400_000), big.slice(400_000, 900_000), big.slice(900_000) + '\nok2\n', big];
    const got = await collect(chunks(...parts));
    assert.deepEqual(
      got.map((l) => [l.text, l.line, l.overlong ?? false]),
      [
        ['ok1', 1, false],
        ['', 2, true],
        ['ok2', 3, false],
        ['', 4, true],
      ],
    );
  });
  it('counts bytes, not characters, against the limit', async () => {
    const exact = 'é'.repeat(MAX_LINE / 2); // exactly 1 MiB of UTF-8
    const over = exact + 'a';
    const got = await collect(chunks(exact + '\n' + over + '\n'));
    assert.equal(got[0]!.text, exact);
    assert.equal(got[1]!.overlong, true);
  });
  it('streams 200,000 lines, yielding the first before the input ends', async () => {
    const pt = new PassThrough();
    pt.write('http://h/0\n');
    const it = readLines(pt, '-');
    const first = await it.next();
    assert.deepEqual(first.value, { text: 'http://h/0', source: '-', line: 1 });
    assert.equal(pt.writableEnded, false);
    // Write the rest in batches, respecting the stream's backpressure, while we read.
    const writer = (async () => {
      let batch = '';
      for (let i = 1; i < 200_000; i++) {
        batch += `http://h/${i}\n`;
        if (batch.length > 64 * 1024) {
          if (!pt.write(batch)) await new Promise((r) => pt.once('drain', r));
          batch = '';
        }
      }
      pt.end(batch);
    })();
    let n = 1;
    let last = '';
    for (let r = await it.next(); !r.done; r = await it.next()) {
      n++;
      last = r.value.text;
      assert.equal(r.value.line, n);
    }
    await writer;
    assert.equal(n, 200_000);
    assert.equal(last, 'http://h/199999');
  });
});

describe('openInputFiles and allLines', () => {
  it('throws InputError naming a missing file', async () => {
    const path = join(tmpdir(), `bulkget-missing-${process.pid}.txt`);
    await assert.rejects(openInputFiles([path]), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.message, `cannot read input file ${path}: ENOENT`);
      return true;
    });
  });
  it('refuses a directory and stdin twice', async () => {
    await assert.rejects(openInputFiles([tmpdir()]), (e: unknown) => e instanceof InputError && e.message.includes('EISDIR'));
    await assert.rejects(openInputFiles(['-', '-']), InputError);
  });
  it('yields argv first, then each file in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkget-input-'));
    try {
      const f1 = join(dir, 'one.txt');
      const f2 = join(dir, 'two.txt');
      await writeFile(f1, 'http://h/1\r\n# c\r\n');
      await writeFile(f2, 'http://h/2');
      const inputs = await openInputFiles([f1, f2]);
      const got: RawLine[] = [];
      for await (const l of allLines({ urls: ['http://h/a', 'http://h/b'], inputs })) got.push(l);
      assert.deepEqual(got, [
        { text: 'http://h/a', source: 'argv', line: 1 },
        { text: 'http://h/b', source: 'argv', line: 2 },
        { text: 'http://h/1', source: f1, line: 1 },
        { text: '# c', source: f1, line: 2 },
        { text: 'http://h/2', source: f2, line: 1 },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('countries', () => {
  const MSG = 'each CC argument must be A to Z or AA to ZZ';
  it('expands one letter to 26 codes', () => {
    const got = expandCodeArgs(['B']);
    assert.equal(got.length, 26);
    assert.equal(got[0], 'BA');
    assert.equal(got[25], 'BZ');
  });
  it('two letters, case-insensitive', () => {
    assert.deepEqual(expandCodeArgs(['cn', 'ZZ', 'uS']), ['CN', 'ZZ', 'US']);
    assert.deepEqual(selectCodes({ args: ['us', 'cn', 'US'] }), ['CN', 'US']);
  });
  for (const bad of ['ABC', '1', 'é', '', 'A1', ' a']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => expandCodeArgs([bad]), (e: unknown) => e instanceof CodeError && e.message === MSG);
      assert.throws(() => selectCodes({ args: ['CN', bad] }), (e: unknown) => e instanceof CodeError && e.message === MSG);
    });
  }
  it('every: AA..ZZ, cut by first', () => {
    assert.equal(everyCode().length, 676);
    const got = selectCodes({ args: [], every: true, first: 30 });
    assert.equal(got.length, 30);
    const want = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((c) => 'A' + c).concat(['BA', 'BB', 'BC', 'BD']);
    assert.deepEqual(got, want);
  });
  it('default is POP20, sorted', () => {
    const got = selectCodes({ args: [] });
    assert.equal(got.length, 20);
    assert.deepEqual(got, [...POP20].sort());
    assert.equal(got[0], 'BD');
    assert.deepEqual(selectCodes({ args: [], first: 3 }), ['BD', 'BR', 'CD']);
  });
  it('bundled codes: 241', () => {
    const codes = loadBundledCodes();
    assert.equal(codes.length, 241);
    assert.ok(codes.every((c) => /^[A-Z]{2}$/.test(c)));
    assert.equal(selectCodes({ args: [], all: true }).length, 241);
    assert.deepEqual(selectCodes({ args: [], all: true, first: 2 }), ['AD', 'AE']);
  });
  const conflicts: Array<{ args: string[]; all?: boolean; every?: boolean }> = [
    { args: [], all: true, every: true },
    { args: ['CN'], all: true },
    { args: ['C'], every: true },
  ];
  for (const c of conflicts) {
    it(`conflict ${JSON.stringify(c)}`, () => {
      assert.throws(
        () => selectCodes(c),
        (e: unknown) => e instanceof CodeConflictError && e.message === 'use only one of CC arguments, --all and --every',
      );
    });
  }
  it('flagUrl and flagOut', () => {
    assert.equal(flagUrl('http://localhost:8001/flags', 'CN'), 'http://localhost:8001/flags/cn/cn.gif');
    assert.equal(flagUrl('http://flupy.org/data/flags/', 'Br'), 'http://flupy.org/data/flags/br/br.gif');
    assert.equal(flagOut('CN'), 'cn.gif');
  });
});

describe('shard', () => {
  const good: Array<[string, { k: number; n: number }]> = [
    ['0/1', { k: 0, n: 1 }],
    ['0/4', { k: 0, n: 4 }],
    ['3/4', { k: 3, n: 4 }],
    ['12/100', { k: 12, n: 100 }],
  ];
  for (const [s, want] of good) it(`parseShard ${s}`, () => assert.deepEqual(parseShard(s), want));
  for (const bad of ['5/3', '4/4', '0/0', '-1/4', '1', '1/', '/4', 'a/b', '1.5/4', '1/4/5', '']) {
    it(`parseShard rejects ${JSON.stringify(bad)}`, () => {
      assert.equal(parseShard(bad), undefined);
    });
  }
  it('FNV-1a known values', () => {
    // Offset basis for the empty string; "a": (0x811c9dc5 ^ 0x61) * 0x01000193 mod 2^32.
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('https://example.com/a.gif'), 0x3903818b);
    // Non-ASCII goes through UTF-8 bytes (checked against an independent implementation).
    assert.equal(fnv1a32('http://例え.jp/ü'), 0x45439bb0);
  });
  it('shardOf = fmix32(FNV-1a) mod n, known values', () => {
    // Values from the Python definition in shard.ts, so other tools can check their port.
    assert.equal(fmix32(0x811c9dc5), 0xab3e7c0b);
    assert.equal(fmix32(0xe40c292c), 0x1a80b1b3);
    assert.equal(shardOf('', 1000), 923);
    assert.equal(shardOf('a', 1000), 715);
    assert.equal(shardOf('https://example.com/a.gif', 4), 0);
    assert.equal(shardOf('http://例え.jp/ü', 1000), 843);
    assert.equal(shardOf('anything', 1), 0);
  });
  it('splits 10,000 URLs into disjoint, covering, balanced shards', () => {
    const n = 4;
    const urls = Array.from({ length: 10_000 }, (_, i) => `https://cdn${i % 7}.example.com/files/${i}/file-${i}.bin`);
    const shards: string[][] = Array.from({ length: n }, () => []);
    for (const u of urls) {
      const s = shardOf(u, n);
      assert.ok(Number.isInteger(s) && s >= 0 && s < n);
      assert.equal(shardOf(u, n), s); // stable
      shards[s]!.push(u);
    }
    // Each machine filters independently: shard K keeps exactly the URLs with shardOf == K.
    const seen = new Set<string>();
    for (let k = 0; k < n; k++) {
      const mine = urls.filter((u) => shardOf(u, n) === k);
      assert.deepEqual(mine, shards[k]);
      for (const u of mine) {
        assert.ok(!seen.has(u), 'disjoint');
        seen.add(u);
      }
      const share = mine.length / urls.length;
      assert.ok(share >= 0.15 && share <= 0.35, `shard ${k} holds ${share}`);
    }
    assert.equal(seen.size, urls.length);
  });
});
