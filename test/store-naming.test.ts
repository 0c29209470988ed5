import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOutPath, nameFromUrl, parseSuffix, partialName, treePath, withSuffix } from '../src/naming/names.js';
import { percentDecode, sanitizeSegment } from '../src/naming/segment.js';
import { sanitizeDispositionName } from '../src/naming/disposition.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

test('sanitizeSegment: hostile inputs', () => {
  const table: [string, string][] = [
    ['../etc/passwd', '.._etc_passwd'],
    ['a/b', 'a_b'],
    ['a\\b', 'a_b'],
    ['a\0b', 'a_b'],
    ['\x1b[31m', '_[31m'],
    ['a\x7fb\u009bc', 'a_b_c'],
    ['tab\there', 'tab_here'],
    ['<>:"|?*', '_______'],
    ['CON', '_CON'],
    ['con', '_con'],
    ['con.txt', '_con.txt'],
    ['Aux.tar.gz', '_Aux.tar.gz'],
    ['LPT9', '_LPT9'],
    ['com1', '_com1'],
    ['NUL.', '_NUL'],
    ['console', 'console'],
    ['lpt10', 'lpt10'],
    ['..', '_'],
    ['.', '_'],
    ['...', '_'],
    ['', '_'],
    ['name. ', 'name'],
    ['name . . ', 'name'],
    [' lead', ' lead'],
    ['.bashrc', '.bashrc'],
    ['caf\u00e9 \u20ac.txt', 'caf\u00e9 \u20ac.txt'],
    ['lone\ud800x', 'lone_x'],
    ['pair\ud83d\ude00', 'pair\ud83d\ude00'],
  ];
  for (const [input, want] of table) assert.equal(sanitizeSegment(input), want, JSON.stringify(input));
});

test('sanitizeSegment: length cap at 200 UTF-8 bytes, code points kept whole, short extension kept', () => {
  const long = sanitizeSegment('x'.repeat(300));
  assert.equal(long, 'x'.repeat(200));

  const withExt = sanitizeSegment('y'.repeat(300) + '.tar.gz');
  assert.equal(bytes(withExt), 200);
  assert.ok(withExt.endsWith('.gz'));

  // 2-byte characters: 98 of them (196 bytes) plus '.txt'.
  const accented = sanitizeSegment('\u00e9'.repeat(150) + '.txt');
  assert.equal(accented, '\u00e9'.repeat(98) + '.txt');

  // 3-byte characters: 66 fit (198 bytes); a 67th would need 201.
  const euro = sanitizeSegment('\u20ac'.repeat(100));
  assert.equal(euro, '\u20ac'.repeat(66));
  assert.equal(bytes(euro), 198);

  // 4-byte characters (surrogate pairs): exactly 50, no half pair left at the end.
  const emoji = sanitizeSegment('\u{1f600}'.repeat(60));
  assert.equal(emoji, '\u{1f600}'.repeat(50));
  assert.ok(!/[\ud800-\udbff]$/.test(emoji));

  // A long "extension" is not kept: it is more likely part of the name.
  const longExt = sanitizeSegment('a'.repeat(250) + '.' + 'e'.repeat(30));
  assert.equal(longExt, 'a'.repeat(200));

  // The cut does not leave a trailing dot or space behind (Windows would drop it).
  const spaced = sanitizeSegment('b'.repeat(199) + ' c'.repeat(20));
  assert.ok(!/[. ]$/.test(spaced));
  assert.ok(bytes(spaced) <= 200);

  // Exactly at the cap: untouched.
  const exact = 'z'.repeat(196) + '.bin';
  assert.equal(sanitizeSegment(exact), exact);
});

test('sanitizeSegment: output is always a safe segment', () => {
  const nasty = ['..', '.', '', '/', '\\', '\0', 'a/../b', ' ', '. .', 'CON.', 'x'.repeat(1000), '\u{1f600}'.repeat(200)];
  for (const s of nasty) {
    const r = sanitizeSegment(s);
    assert.ok(r !== '' && r !== '.' && r !== '..', JSON.stringify(s));
    assert.ok(!/[\u0000-\u001f/\\]/.test(r), JSON.stringify(s));
    assert.ok(bytes(r) <= 200, JSON.stringify(s));
  }
});

test('percentDecode: lenient, never throws', () => {
  const table: [string, string][] = [
    ['plain', 'plain'],
    ['a%20b', 'a b'],
    ['caf%C3%A9', 'caf\u00e9'],
    ['%ZZ', '%ZZ'],
    ['100%', '100%'],
    ['%', '%'],
    ['%4', '%4'],
    ['%FF', '%FF'],
    ['%C3', '%C3'],
    ['%FF%C3%A9', '%FF\u00e9'],
    ['%E2%82', '%E2%82'],
    ['%E2%82%AC', '\u20ac'],
    ['%ED%A0%80', '%ED%A0%80'], // an encoded surrogate is not valid UTF-8
    ['%C0%AF', '%C0%AF'], // overlong '/'
    ['%F0%9F%98%80', '\u{1f600}'],
  ];
  for (const [input, want] of table) assert.equal(percentDecode(input), want, input);
});

test('nameFromUrl', () => {
  const table: [string, string][] = [
    ['http://h/file.zip', 'file.zip'],
    ['http://h/dir/a%2Fb.txt', 'a_b.txt'],
    ['http://h/dir/%2e%2e', 'index.html'], // the URL parser resolves it as '..'
    ['http://h/%2e%2e%2fetc%2fpasswd', '.._etc_passwd'],
    ['http://h/%ZZ.bin', '%ZZ.bin'],
    ['http://h/x.cgi?file=a/b.txt', 'x.cgi'],
    ['http://h/page#frag/ment', 'page'],
    ['http://h/', 'index.html'],
    ['http://h', 'index.html'],
    ['http://h/dir/', 'index.html'],
    ['http://h/dir/?q=1', 'index.html'],
    ['http://h/caf%C3%A9.txt', 'caf\u00e9.txt'],
    ['http://h/\u20ac.txt', '\u20ac.txt'],
    ['http://h/%00nul', '_nul'],
    ['http://h/con.txt', '_con.txt'],
    ['http://h/a%5Cb', 'a_b'],
    // bulkget's own records folder is never a name a URL can take; the file still comes.
    ['http://h/.bulkget', '_.bulkget'],
    ['http://h/x/%2EBulkGet', '_.BulkGet'],
    ['http://h/.bulkget.txt', '.bulkget.txt'],
  ];
  for (const [u, want] of table) assert.equal(nameFromUrl(new URL(u)), want, u);
});

test('checkOutPath', () => {
  const bad: [string, string][] = [
    ['/etc/passwd', 'output path must be relative'],
    ['\\x', 'output path must be relative'],
    ['C:\\x', 'output path must be relative'],
    ['C:/x', 'output path must be relative'],
    ['c:x', 'output path must be relative'],
    ['//server/share', 'output path must be relative'],
    ['\\\\server\\share', 'output path must be relative'],
    ['..', 'output path must not contain ".."'],
    ['../x', 'output path must not contain ".."'],
    ['a/../b', 'output path must not contain ".."'],
    ['a/..', 'output path must not contain ".."'],
    ['a\\..\\b', 'output path must not contain ".."'],
    ['', 'output path is empty'],
    ['.', 'output path is empty'],
    ['./', 'output path is empty'],
    ['a/', 'output path names a directory'],
    ['a/b/.', 'output path names a directory'],
    ['.bulkget/lock', 'output path must not be inside .bulkget'],
    ['.BULKGET/state.jsonl', 'output path must not be inside .bulkget'],
  ];
  for (const [input, reason] of bad) assert.deepEqual(checkOutPath(input), { ok: false, reason }, JSON.stringify(input));

  const good: [string, string][] = [
    ['a.txt', 'a.txt'],
    ['./a//b', 'a/b'],
    ['a\\b\\c.txt', 'a/b/c.txt'],
    ['sub/dir/file.bin', 'sub/dir/file.bin'],
    ['.../x', '_/x'],
    ['a/CON/b.txt', 'a/_CON/b.txt'],
    ['a/b:c', 'a/b_c'],
    ['x/.bulkget', 'x/.bulkget'],
  ];
  for (const [input, path] of good) assert.deepEqual(checkOutPath(input), { ok: true, path }, JSON.stringify(input));
});

test('treePath', () => {
  const table: [string, string][] = [
    ['http://h.example/', 'h.example/index.html'],
    ['http://h.example:80/a/b.txt', 'h.example/a/b.txt'],
    ['https://h.example:443/a/', 'h.example/a/index.html'],
    ['http://h.example:8080/x/y.txt', 'h.example_8080/x/y.txt'],
    ['https://h.example:80/', 'h.example_80/index.html'],
    ['http://h.example:443/', 'h.example_443/index.html'],
    ['http://[::1]:8080/a', '__1_8080/a'],
    ['http://[2001:db8::1]/x', '2001_db8__1/x'],
    ['http://H.Example/a%2Fb/c%20d', 'h.example/a_b/c d'],
    ['http://h/a//b', 'h/a/b'],
    ['http://h/%2e%2e%2f/x', 'h/.._/x'],
    ['http://h/dir/%2e%2e/x', 'h/x'],
    ['http://h/file?q=1#f', 'h/file'],
    ['http://h/con/aux.txt', 'h/_con/_aux.txt'],
  ];
  for (const [u, want] of table) assert.equal(treePath(new URL(u)), want, u);
});

test('withSuffix and parseSuffix', () => {
  const table: [string, number, string][] = [
    ['name.ext', 1, 'name-1.ext'],
    ['dir/name.ext', 2, 'dir/name-2.ext'],
    ['.bashrc', 1, '.bashrc-1'],
    ['a.tar.gz', 1, 'a.tar-1.gz'],
    ['README', 1, 'README-1'],
    ['d.x/README', 3, 'd.x/README-3'],
    ['a/b/.hidden.conf', 10, 'a/b/.hidden-10.conf'],
    ['index.html', 12345, 'index-12345.html'],
  ];
  for (const [p, n, want] of table) {
    assert.equal(withSuffix(p, n), want);
    assert.deepEqual(parseSuffix(want), { path: p, n });
  }
  assert.equal(parseSuffix('plain.txt'), null);
  assert.equal(parseSuffix('x-0.txt'), null);
  assert.equal(parseSuffix('x-01.txt'), null);
  assert.equal(parseSuffix('-1'), null);
});

test('sanitizeDispositionName', () => {
  const table: [string, string | null][] = [
    [`attachment; filename*=UTF-8''%E2%82%AC%20rates.txt`, '\u20ac rates.txt'],
    [`attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`, '\u20ac rates.txt'],
    ['attachment; filename="../../etc/passwd"', 'passwd'],
    ['attachment; filename=C:\\x\\evil.exe', 'evil.exe'],
    ['attachment; filename="C:\\x\\evil.exe"', 'evil.exe'],
    ['attachment; filename=plain.bin', 'plain.bin'],
    ['attachment;filename="quoted name.pdf";size=3', 'quoted name.pdf'],
    ['attachment; FILENAME="Upper.TXT"', 'Upper.TXT'],
    ['attachment; filename="a\\"b.txt"', 'a_b.txt'],
    ['attachment; filename="con.txt"', '_con.txt'],
    ['attachment; filename=".bulkget"', '_.bulkget'],
    ['attachment; filename="x/.BULKGET"', '_.BULKGET'],
    ["attachment; filename*=iso-8859-1'en'%A3%20rates", '\u00a3 rates'],
    ["attachment; filename*=UTF-8''%FF; filename=fb.txt", 'fb.txt'],
    ['attachment; filename="caf\u00c3\u00a9.txt"', 'caf\u00e9.txt'], // raw UTF-8 seen as Latin-1
    ['attachment; filename="dir/"', null],
    ['attachment; filename=".."', null],
    ['attachment; filename=""', null],
    ['attachment', null],
    ['inline; name="x"', null],
    ['', null],
  ];
  for (const [h, want] of table) assert.equal(sanitizeDispositionName(h), want, h);
});

test('partialName: one-to-one, never an item name, never too long', () => {
  const table: Array<[string, string]> = [
    ['x', 'x.part'],
    ['x.part', 'x.part.part'],
    ['a/b.bin', 'a%2Fb.bin.part'],
    ['a%2Fb.bin', 'a%252Fb.bin.part'],
    ['#tag', '%23tag.part'],
    ['%23tag', '%2523tag.part'],
    ['mid#dle', 'mid#dle.part'],
  ];
  for (const [rel, want] of table) assert.equal(partialName(rel), want, rel);
  const long = 'd/'.repeat(60) + 'é'.repeat(90);
  const hashed = partialName(long);
  assert.match(hashed, /^#[0-9a-f]{32}\.part$/);
  assert.notEqual(partialName(long + 'x'), hashed);
  assert.ok(Buffer.byteLength(partialName('a'.repeat(200))) <= 240);
  // Distinct paths, distinct partial names, over a set built to collide if the map were lossy.
  const rels = ['a/b', 'a%2Fb', 'a%252Fb', 'a/b.part', 'a/b/c', 'a%2Fb/c', '#a', '%23a', 'x', 'x.part', 'x.part.part'];
  assert.equal(new Set(rels.map(partialName)).size, rels.length);
});
