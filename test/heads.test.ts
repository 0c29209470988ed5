// Response heads at the size limit bulkget sets for them (16 KiB, engine/setup.ts): just under it
// is an answer; over it is a failure that says so, once, not a retried parser error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startRawServer } from './helpers/raw.js';
import { fetchAll } from './helpers/lib.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('heads');

test('a 15 KB response head is read; a 20 KB one fails in one line, not retried', async (t) => {
  const s = await startRawServer();
  t.after(() => s.close());
  const head = (n: number) => `HTTP/1.1 200 OK\r\nX-Filler: ${'a'.repeat(n)}\r\nContent-Length: 2\r\n\r\nok`;
  s.file('/mid.bin', { script: [{ raw: head(15_000), then: 'keep' }] });
  s.file('/big.bin', { script: [{ raw: head(20_000), then: 'keep' }] });
  const dest = tmp();
  const r = await fetchAll([s.url('/mid.bin'), s.url('/big.bin')], { dest, retryDelay: 10 });
  assert.equal(r.code, 1);
  assert.equal(readFileSync(path.join(dest, 'mid.bin'), 'utf8'), 'ok');
  assert.equal(r.summary.failures.length, 1);
  const f = r.summary.failures[0]!;
  assert.match(f.url, /\/big\.bin$/);
  assert.equal(f.error, 'the response head is larger than 16 KiB');
  assert.equal(f.attempts, 1);
  assert.equal(s.hits('/big.bin').length, 1);
});
