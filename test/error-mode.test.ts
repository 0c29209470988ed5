// The done-when of the faults work: every flag comes out byte-equal from `bulkget serve`'s ERROR
// mode (500s, 503s with and without Retry-After, resets and bodies cut short).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, ROOT } from './helpers/cli.js';
import { startFlagServer } from '../src/serve/server.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('flags -a against the ERROR mode (20% faults): every flag correct by checksum, exit 0', async (t) => {
  const faults: string[] = [];
  const srv = await startFlagServer({
    mode: 'error',
    port: 0,
    errorRate: 0.2,
    seed: 20240611,
    log: (line) => {
      if (line.includes('fault=')) faults.push(line);
    },
  });
  t.after(() => srv.close());
  const dest = mkdtempSync(path.join(tmpdir(), 'bulkget-errmode-'));
  t.after(() => rmSync(dest, { recursive: true, force: true }));
  const r = await runCli(['flags', '-a', '-s', srv.baseUrl, '-r', '8', '--retry-delay', '50ms', '-d', dest, '--progress', 'none', '--report', '-']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { counts: Record<string, number>; retries: number };

  const fixtures = path.join(ROOT, 'fixtures', 'flags');
  const expected = readdirSync(fixtures).filter((f) => f.endsWith('.gif')).sort();
  assert.deepEqual(readdirSync(dest).filter((f) => f !== '.bulkget').sort(), expected);
  for (const f of expected) {
    assert.equal(sha256(readFileSync(path.join(dest, f))), sha256(readFileSync(path.join(fixtures, f))), f);
  }
  assert.equal(report.counts.downloaded, expected.length);
  assert.equal(report.counts.failed, 0);
  // The faults really happened, and each one cost a retry.
  assert.ok(faults.length > 20, `${faults.length} faults`);
  assert.ok(report.retries >= faults.length, `${report.retries} retries for ${faults.length} faults`);
});
