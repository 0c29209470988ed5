// Extra trusted certificates (DownloadOptions.extraCaCerts, what NODE_EXTRA_CA_CERTS does): the
// CLI's shebang hands NODE_EXTRA_CA_CERTS over to bulkget so that Node 20 does not read it at
// start (bin/bulkget.js, src/http/trust.ts); an https server signed by that file must still be
// trusted, and nothing else must be.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFaultServer } from './helpers/faults.js';
import { fetchAll } from './helpers/lib.js';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { TEST_CERT } from './helpers/tls.js';

const tmp = tempDirs('trust');

function caFile(text = TEST_CERT): string {
  const file = path.join(tmp(), 'ca.pem');
  writeFileSync(file, text);
  return file;
}

test('library: extraCaCerts trusts the file on https, through a connection and a second one', async (t) => {
  const s = await startFaultServer({ tls: true });
  t.after(() => s.close());
  s.route('/a.bin', { size: 100 });
  s.route('/b.bin', { size: 200 });
  const dest = tmp();
  const r = await fetchAll([s.url('/a.bin'), s.url('/b.bin')], { dest, extraCaCerts: caFile(), retries: 0, limit: 2 });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(readFileSync(path.join(dest, 'a.bin')).length, 100);
  assert.equal(readFileSync(path.join(dest, 'b.bin')).length, 200);
});

test('library: without the file, or with one that is missing or not PEM, the self-signed server is refused', async (t) => {
  const s = await startFaultServer({ tls: true });
  t.after(() => s.close());
  s.route('/a.bin', { size: 10 });
  for (const extraCaCerts of [undefined, path.join(tmp(), 'missing.pem'), caFile('not a certificate\n')]) {
    const r = await fetchAll([s.url('/a.bin')], { dest: tmp(), extraCaCerts, retries: 0 });
    assert.equal(r.code, 1, `extraCaCerts ${extraCaCerts}`);
    assert.match(r.of('/a.bin').error ?? '', /certificate/i, `extraCaCerts ${extraCaCerts}`);
  }
});

test('CLI: BULKGET_DEFERRED_CA_CERTS (set by the shebang from NODE_EXTRA_CA_CERTS) is trusted, and with --jobs 2 too', async (t) => {
  const s = await startFaultServer({ tls: true });
  t.after(() => s.close());
  for (const p of ['/a.bin', '/b.bin', '/c.bin']) s.route(p, { size: 50 });
  const ca = caFile();
  for (const jobs of ['1', '2']) {
    const dest = tmp();
    const r = await runCli(['-q', '-r', '0', '--jobs', jobs, '-d', dest, s.url('/a.bin'), s.url('/b.bin'), s.url('/c.bin')], {
      env: { BULKGET_DEFERRED_CA_CERTS: ca, NODE_EXTRA_CA_CERTS: '' },
    });
    assert.equal(r.code, 0, `--jobs ${jobs}: ${r.stderr}`);
    for (const f of ['a.bin', 'b.bin', 'c.bin']) assert.equal(readFileSync(path.join(dest, f)).length, 50);
  }
  const refused = await runCli(['-q', '-r', '0', '-d', tmp(), s.url('/a.bin')], { env: { BULKGET_DEFERRED_CA_CERTS: '', NODE_EXTRA_CA_CERTS: '' } });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /certificate/i);
});
