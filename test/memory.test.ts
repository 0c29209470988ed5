// Memory does not grow with file size: bodies stream to disk with backpressure. Measured on the
// built executable (bin/bulkget.js with its shebang flags), as users run it, not through tsx.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('memory');
const BIN = path.join(ROOT, 'bin/bulkget.js');
const PEAK = pathToFileURL(path.join(ROOT, 'test/helpers/peak-rss.mjs')).href;

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

test('a 50 MiB file downloads with peak RSS under 150 MiB (the target of issue #12)', { skip: !existsSync(path.join(ROOT, 'dist/cli/main.js')) && 'needs npm run build' }, async (t) => {
  const size = 50 << 20;
  // One 1 MiB block, sent 50 times with a counter in front, so the file is not all one pattern.
  const block = createHash('sha256').update('block').digest();
  const unit = Buffer.alloc(1 << 20);
  for (let i = 0; i < unit.length; i += block.length) block.copy(unit, i);
  const expected = createHash('sha256');
  for (let i = 0; i < 50; i++) {
    unit.writeUInt32BE(i, 0);
    expected.update(unit);
  }
  const s = await startServer({
    handler: async (_req, res) => {
      res.writeHead(200, { 'content-length': size });
      for (let i = 0; i < 50; i++) {
        unit.writeUInt32BE(i, 0);
        if (!res.write(Buffer.from(unit))) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    },
  });
  t.after(() => s.close());
  const dest = tmp();
  const child = spawn(BIN, ['-d', dest, '-q', s.url('/big.bin')], {
    env: { ...process.env, NODE_OPTIONS: `--import=${PEAK}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, stderr);
  assert.equal(await sha256File(path.join(dest, 'big.bin')), expected.digest('hex'));
  const kb = Number(/PEAK_RSS_KB (\d+)/.exec(stderr)?.[1]);
  assert.ok(kb > 0, stderr);
  t.diagnostic(`peak RSS ${(kb / 1024).toFixed(1)} MiB`);
  assert.ok(kb < 150 * 1024, `peak RSS ${(kb / 1024).toFixed(1)} MiB`);
});
