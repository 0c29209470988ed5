// The run's DNS cache: one resolver call per host name per TTL, however many connections ask.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { cachedLookup } from '../src/http/dns.js';

type Cb = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function fakeResolver() {
  const calls: string[] = [];
  let pending: Array<() => void> = [];
  const resolve = (host: string, _o: LookupOptions, cb: Cb) => {
    calls.push(host);
    pending.push(() => (host === 'nx.invalid' ? cb(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }), '') : cb(null, [{ address: '10.0.0.' + calls.length, family: 4 }])));
  };
  const flush = () => {
    const p = pending;
    pending = [];
    for (const f of p) f();
  };
  return { calls, resolve, flush };
}

const ask = (lookup: ReturnType<typeof cachedLookup>, host: string, all = false) =>
  new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>((resolve) =>
    lookup(host, { all }, (err, address, family) => resolve({ err, address, family })),
  );

test('cachedLookup: concurrent and later asks share one resolver call until the TTL ends; failures are not kept', async () => {
  const r = fakeResolver();
  let clock = 1000;
  const lookup = cachedLookup(r.resolve, 60_000, () => clock);
  const many = Array.from({ length: 20 }, () => ask(lookup, 'a.example'));
  r.flush();
  const got = await Promise.all(many);
  assert.deepEqual(r.calls, ['a.example']);
  for (const g of got) assert.deepEqual([g.err, g.address, g.family], [null, '10.0.0.1', 4]);
  // Later, within the TTL: no call.
  assert.deepEqual((await ask(lookup, 'a.example', true)).address, [{ address: '10.0.0.1', family: 4 }]);
  assert.equal(r.calls.length, 1);
  // Another host, its own call.
  const b = ask(lookup, 'b.example');
  r.flush();
  assert.equal((await b).address, '10.0.0.2');
  // After the TTL: asked again.
  clock += 60_001;
  const again = ask(lookup, 'a.example');
  r.flush();
  assert.equal((await again).address, '10.0.0.3');
  // A failure reaches every waiter and is asked again next time.
  const f1 = ask(lookup, 'nx.invalid');
  const f2 = ask(lookup, 'nx.invalid');
  r.flush();
  assert.equal((await f1).err?.code, 'ENOTFOUND');
  assert.equal((await f2).err?.code, 'ENOTFOUND');
  const f3 = ask(lookup, 'nx.invalid');
  r.flush();
  await f3;
  assert.equal(r.calls.filter((h) => h === 'nx.invalid').length, 2);
});
