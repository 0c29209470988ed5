// --progress json: one JSON object per interval on stderr, for programs that wrap bulkget; the last
// one, when the run ends, has the final counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.js';
import { startFaultServer } from './helpers/faults.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('pjson');

test('--progress json: a JSON object per interval on stderr, the last one final', { timeout: 30_000 }, async (t) => {
  const s = await startFaultServer();
  t.after(() => s.close());
  const urls: string[] = [];
  for (let i = 0; i < 6; i++) {
    s.route(`/p${i}.bin`, { size: 40_000, throttle: { bytes: 10_000, everyMs: 100 } });
    urls.push(s.url(`/p${i}.bin`));
  }
  s.route('/missing.bin', { script: [404] });
  urls.push(s.url('/missing.bin'));
  // -q silences the text report; the JSON lines, asked for by name, still come.
  const r = await runCli(['-q', '-d', tmp(), '--progress', 'json', '--progress-interval', '0.1s', ...urls]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 3, `${lines.length} lines`);
  const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const o of objs) {
    assert.deepEqual(Object.keys(o), ['elapsedMs', 'total', 'totalKnown', 'counts', 'bytes', 'retries', 'active', 'connections', 'bytesPerSecond']);
  }
  const mid = objs.find((o) => (o.active as number) > 0);
  assert.ok(mid, 'some line was written while downloads were under way');
  assert.ok((mid.bytesPerSecond as number) > 0);
  const last = objs.at(-1)!;
  assert.deepEqual(last.counts, { downloaded: 6, unchanged: 0, skipped: 0, notFound: 1, failed: 0, invalid: 0 });
  assert.ok((last.bytes as number) >= 240_000);
  assert.equal(last.total, 7);
  assert.equal(last.totalKnown, true);
  assert.equal(last.active, 0);
  // Time only goes forward.
  for (let i = 1; i < objs.length; i++) assert.ok((objs[i]!.elapsedMs as number) >= (objs[i - 1]!.elapsedMs as number));
});

test('--progress: a mode that does not exist is a usage error naming the modes', async () => {
  const r = await runCli(['-d', tmp(), '--progress', 'xml', 'http://127.0.0.1:9/x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--progress must be one of auto, bar, lines, json, none/);
});
