// Nothing leaked: credentials go only to the origin they were given for, passwords are never shown,
// DEST/.bulkget holds none, netrc supplies per-host credentials, proxy credentials reach the proxy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { maskText, maskUrl } from '../src/text.js';
import { basicAuth, parseNetrc, requestHeaders, withoutUserinfo, type CredentialPolicy } from '../src/http/credentials.js';
import { runCli, runWithReport } from './helpers/cli.js';
import { startRawServer, type RawServer } from './helpers/raw.js';
import { startFaultServer } from './helpers/faults.js';
import { fetchAll } from './helpers/lib.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('creds');

async function raw(t: { after: (fn: () => Promise<void>) => void }): Promise<RawServer> {
  const s = await startRawServer();
  t.after(() => s.close());
  return s;
}

test('requestHeaders: credential headers follow the origin, not the redirect', () => {
  const given = { 'user-agent': 'ua', authorization: 'Bearer t', cookie: 'c=1', 'proxy-authorization': 'Basic x', accept: '*/*' };
  const from = new URL('https://a.example/f');
  const plain: CredentialPolicy = { trusted: false };
  const cases: Array<[string, boolean]> = [
    ['https://a.example/other', true],
    ['https://A.EXAMPLE:443/other', true], // same origin, spelt differently
    ['http://a.example/f', false], // scheme changed (https -> http)
    ['https://a.example:8443/f', false], // port changed
    ['https://b.example/f', false], // host changed
    ['https://sub.a.example/f', false],
  ];
  for (const [to, keep] of cases) {
    const h = requestHeaders(given, from, new URL(to), plain);
    for (const name of ['authorization', 'cookie', 'proxy-authorization'] as const) {
      assert.equal(h[name], keep ? given[name] : undefined, `${to} ${name}`);
    }
    assert.equal(h['user-agent'], 'ua');
    assert.equal(h.accept, '*/*');
  }
  // --location-trusted keeps them everywhere.
  assert.equal(requestHeaders(given, from, new URL('http://b.example/'), { trusted: true }).authorization, 'Bearer t');
  // Nothing to change: the same object comes back (no allocation per request).
  assert.equal(requestHeaders(given, from, from, plain), given);
});

test('requestHeaders: URL user:password is Basic auth for its own origin only; netrc per host', () => {
  const plain: CredentialPolicy = { trusted: false };
  const from = new URL('http://alice:s%40cret@h.example/f');
  assert.equal(requestHeaders({}, from, from, plain).authorization, basicAuth('alice', 's@cret'));
  assert.equal(requestHeaders({}, from, new URL('http://h.example/g'), plain).authorization, basicAuth('alice', 's@cret'));
  assert.equal(requestHeaders({}, from, new URL('http://evil.example/g'), plain).authorization, undefined);
  assert.equal(requestHeaders({}, from, new URL('http://evil.example/g'), { trusted: true }).authorization, basicAuth('alice', 's@cret'));
  // A redirect target with credentials of its own uses them.
  assert.equal(requestHeaders({}, from, new URL('http://bob:pw@o.example/'), plain).authorization, basicAuth('bob', 'pw'));
  // -H Authorization wins over userinfo.
  assert.equal(requestHeaders({ authorization: 'Bearer x' }, from, from, plain).authorization, 'Bearer x');

  const netrc = parseNetrc('machine h.example login carol password pc\ndefault login anon password guest\n');
  const withNetrc: CredentialPolicy = { trusted: false, netrc };
  const bare = new URL('http://h.example/f');
  assert.equal(requestHeaders({}, bare, bare, withNetrc).authorization, basicAuth('carol', 'pc'));
  // netrc is per host: a redirect to another host gets that host's entry (here the default).
  assert.equal(requestHeaders({}, bare, new URL('http://o.example/'), withNetrc).authorization, basicAuth('anon', 'guest'));
  // A URL naming the login takes the password of that login only.
  const carol = new URL('http://carol@h.example/f');
  assert.equal(requestHeaders({}, carol, carol, withNetrc).authorization, basicAuth('carol', 'pc'));
  const dave = new URL('http://dave@h.example/f');
  assert.equal(requestHeaders({}, dave, dave, { trusted: false, netrc: parseNetrc('machine h.example login carol password pc') }).authorization, basicAuth('dave', ''));
  // URL credentials beat netrc.
  assert.equal(requestHeaders({}, from, from, withNetrc).authorization, basicAuth('alice', 's@cret'));
});

test('parseNetrc: machines, default, quotes, comments, macdef, first entry wins', () => {
  const n = parseNetrc(
    [
      '# a comment',
      'machine a.example login u1 password "p w\\"1"',
      'machine A.example login later password ignored',
      'macdef init',
      'cd /pub',
      'machine fake.example login no password no',
      '',
      'machine b.example',
      '  login u2',
      '  account acc',
      '  password p#2',
      'default login anon password guest',
    ].join('\n'),
  );
  assert.deepEqual(n.get('a.example'), { login: 'u1', password: 'p w"1' });
  assert.deepEqual(n.get('b.example'), { login: 'u2', password: 'p#2' });
  assert.equal(n.get('fake.example'), undefined, 'inside a macdef');
  assert.deepEqual(n.get(''), { login: 'anon', password: 'guest' });
});

test('maskUrl, maskText, withoutUserinfo', () => {
  assert.equal(maskUrl('http://alice:secret@h.example:8080/f?q=1'), 'http://alice:***@h.example:8080/f?q=1');
  assert.equal(maskUrl('https://h.example/a:b@c'), 'https://h.example/a:b@c');
  assert.equal(maskUrl('http://alice@h.example/'), 'http://alice@h.example/');
  assert.equal(maskUrl('http://h.example:81/'), 'http://h.example:81/');
  assert.equal(maskText('ftp://u:pw@h/x and http://v:p2@h2/'), 'ftp://u:***@h/x and http://v:***@h2/');
  assert.equal(withoutUserinfo(new URL('http://a:b@h.example/f')), 'http://h.example/f');
});

test('a redirect to another origin drops -H Authorization and Cookie; --location-trusted keeps them', async (t) => {
  const a = await raw(t);
  const b = await raw(t);
  b.file('/x.bin', { size: 100 });
  b.file('/y.bin', { size: 100 });
  a.file('/a', { script: [{ status: 302, headers: { Location: b.url('/x.bin') } }] });
  a.file('/same', { script: [{ status: 302, headers: { Location: a.url('/z.bin') } }] });
  a.file('/z.bin', { size: 50 });
  a.file('/t', { script: [{ status: 301, headers: { Location: b.url('/y.bin') } }] });
  const dest = tmp();
  const headers = { Authorization: 'Bearer s3cret', Cookie: 'session=abc', 'Proxy-Authorization': 'Basic cHg=' };
  const r = await fetchAll([a.url('/a'), a.url('/same')], { dest, headers });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(a.hits('/a')[0]!.headers.authorization, 'Bearer s3cret');
  const atB = b.hits('/x.bin')[0]!.headers;
  assert.equal(atB.authorization, undefined);
  assert.equal(atB.cookie, undefined);
  assert.equal(atB['proxy-authorization'], undefined);
  // Same origin: kept.
  assert.equal(a.hits('/z.bin')[0]!.headers.cookie, 'session=abc');

  const trusted = await fetchAll([a.url('/t')], { dest: tmp(), locationTrusted: true, headers });
  assert.equal(trusted.code, 0, JSON.stringify(trusted.summary.failures));
  assert.equal(b.hits('/y.bin')[0]!.headers.authorization, 'Bearer s3cret');
  assert.equal(b.hits('/y.bin')[0]!.headers.cookie, 'session=abc');
});

test('https -> http on the same host drops the credentials (CVE-2018-1000007)', async (t) => {
  const secure = await startFaultServer({ tls: true });
  t.after(() => secure.close());
  const plainHttp = await raw(t);
  plainHttp.file('/down.bin', { size: 10 });
  secure.fixed('/up', { status: 302, location: plainHttp.url('/down.bin') });
  const r = await fetchAll([secure.url('/up')], { dest: tmp(), insecure: true, headers: { 'Authorization': 'Bearer s3cret', 'Cookie': 'k=v' } });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(secure.hits('/up')[0]!.headers.authorization, 'Bearer s3cret');
  assert.equal(plainHttp.hits('/down.bin')[0]!.headers.authorization, undefined);
  assert.equal(plainHttp.hits('/down.bin')[0]!.headers.cookie, undefined);
});

test('user:password in a URL: sent as Basic auth to its origin only, shown as ***, never recorded', async (t) => {
  const a = await raw(t);
  const b = await raw(t);
  a.file('/f.bin', { size: 64 });
  a.file('/hop', { script: [{ status: 302, headers: { Location: b.url('/g.bin') } }] });
  b.file('/g.bin', { size: 64 });
  const withCreds = (u: string) => u.replace('http://', 'http://alice:s3cret@');
  const missing = withCreds(a.url('/missing.bin'));
  const dir = tmp();
  const dest = path.join(dir, 'dest');
  const saveFailed = path.join(dir, 'failed.jsonl');
  const r = await runWithReport(['-d', dest, '-v', '--save-failed', saveFailed, withCreds(a.url('/f.bin')), withCreds(a.url('/hop')), missing]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(a.hits('/f.bin')[0]!.headers.authorization, basicAuth('alice', 's3cret'));
  assert.equal(a.hits('/hop')[0]!.headers.authorization, basicAuth('alice', 's3cret'));
  assert.equal(b.hits('/g.bin')[0]!.headers.authorization, undefined, 'not to the origin a redirect named');
  assert.equal(r.report.counts.downloaded, 2);

  // Shown: masked everywhere.
  assert.doesNotMatch(r.stderr + r.stdout, /s3cret/);
  assert.match(r.stderr, /alice:\*\*\*@/);
  assert.equal(r.report.failures[0]!.url, missing.replace('s3cret', '***'));
  const dry = await runCli(['--dry-run', '-d', dest, withCreds(a.url('/f.bin'))]);
  assert.doesNotMatch(dry.stdout + dry.stderr, /s3cret/);
  assert.match(dry.stdout, /alice:\*\*\*@/);
  // Recorded: no credentials in DEST/.bulkget, which is private.
  const own = path.join(dest, '.bulkget');
  assert.equal(statSync(own).mode & 0o777, 0o700);
  for (const f of readdirSync(own)) {
    if (statSync(path.join(own, f)).isFile()) assert.doesNotMatch(readFileSync(path.join(own, f), 'utf8'), /s3cret|alice/, f);
  }
  // --save-failed keeps the password, so that retrying from it works; and it is private.
  assert.match(readFileSync(saveFailed, 'utf8'), /alice:s3cret@/);
  assert.equal(statSync(saveFailed).mode & 0o777, 0o600);
});

test('--netrc-file and --netrc supply per-host credentials; an unreadable --netrc-file is a usage error', async (t) => {
  const s = await raw(t);
  s.file('/n.bin', { size: 10 });
  const dir = tmp();
  writeFileSync(path.join(dir, 'creds'), `machine 127.0.0.1 login nina password "n pass"\n`);
  const r = await fetchAll([s.url('/n.bin')], { dest: path.join(dir, 'd1'), netrc: path.join(dir, 'creds') });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  assert.equal(s.hits('/n.bin')[0]!.headers.authorization, basicAuth('nina', 'n pass'));

  writeFileSync(path.join(dir, '.netrc'), `default login dflt password dp\n`);
  const home = await fetchAll([s.url('/n.bin')], { dest: path.join(dir, 'd2'), netrc: true, env: { ...process.env, HOME: dir } });
  assert.equal(home.code, 0, JSON.stringify(home.summary.failures));
  assert.equal(s.hits('/n.bin')[1]!.headers.authorization, basicAuth('dflt', 'dp'));

  const bad = await runCli(['-d', path.join(dir, 'd3'), '--netrc-file', path.join(dir, 'nope'), s.url('/n.bin')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^bulkget: cannot read netrc file .*nope: ENOENT\n$/);
  assert.equal(s.hits('/n.bin').length, 2, 'no request after a usage error');
});

test('an http:// proxy with user:password gets Proxy-Authorization on every request; the target never sees it', async (t) => {
  const proxy = await raw(t);
  // The "proxy" answers the absolute-form requests itself, as a caching proxy would.
  proxy.file('/via.bin', { size: 20 });
  const r = await fetchAll(['http://target.invalid/via.bin'], { dest: tmp(), proxy: `http://pu:pp@127.0.0.1:${proxy.port}` });
  assert.equal(r.code, 0, JSON.stringify(r.summary.failures));
  const hit = proxy.hits('/via.bin')[0]!;
  assert.equal(hit.target, 'http://target.invalid/via.bin');
  assert.equal(hit.headers['proxy-authorization'], basicAuth('pu', 'pp'));
  assert.equal(hit.headers['host'], 'target.invalid');
});
