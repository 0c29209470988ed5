// What may be shown of text that came from a server or an input line (src/text.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControls, maskText, maskUrl } from '../src/text.js';
import { safeJson } from '../src/ui/outputs.js';

test('escapeControls: controls, separators and bidi overrides escaped, everything else as it was', () => {
  const table: [string, string][] = [
    ['plain.txt', 'plain.txt'],
    ['caf\u00e9 \u20ac \u{1f600}', 'caf\u00e9 \u20ac \u{1f600}'],
    ['a\x1b[31mb', 'a\\x1b[31mb'],
    ['\r\n\t\x00\x7f', '\\x0d\\x0a\\x09\\x00\\x7f'],
    ['\u009b31m', '\\x9b31m'],
    ['line\u2028para\u2029', 'line\\u2028para\\u2029'],
    ['\u202etxt.exe', '\\u202etxt.exe'],
    ['\u2066a\u2069\u200e\u200f\u202a', '\\u2066a\\u2069\\u200e\\u200f\\u202a'],
    ['\u05e9\u05dc\u05d5\u05dd.txt', '\u05e9\u05dc\u05d5\u05dd.txt'], // right-to-left letters are text
  ];
  for (const [input, want] of table) {
    assert.equal(escapeControls(input), want, JSON.stringify(input));
    assert.equal(escapeControls(want), want, `idempotent on ${JSON.stringify(want)}`);
  }
});

test('maskUrl and maskText: the password becomes ***, the rest stays', () => {
  assert.equal(maskUrl('http://u:secret@h/x'), 'http://u:***@h/x');
  assert.equal(maskUrl('http://u@h/x'), 'http://u@h/x');
  assert.equal(maskUrl('http://h/a:b@c'), 'http://h/a:b@c');
  assert.equal(maskText('bad line http://u:pw@h/x here'), 'bad line http://u:***@h/x here');
});

test('safeJson: no raw DEL, C1, separator or bidi override, and JSON.parse gives back the very same text', () => {
  const v = { out: '\u202etxt.exe', note: 'a\u009b31m\u007f\u2028\u2066b\u2069', plain: 'caf\u00e9 \u05e9', n: 1 };
  const s = safeJson(v);
  assert.doesNotMatch(s, /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
  assert.match(s, /\\u202etxt\.exe/);
  assert.deepEqual(JSON.parse(s), v);
  assert.deepEqual(JSON.parse(safeJson(v, 2)), v);
});
