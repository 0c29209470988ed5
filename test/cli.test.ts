// The CLI as scripts and people meet it: usage errors, help, exit statuses, reports, dry runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, TSX, runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { startServer } from './helpers/server.js';

const tmp = tempDirs('cli');

test('usage errors: one line on stderr, exit 2, no request made', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const url = s.url('/file/a.bin');
  const fileAsDir = path.join(tmp(), 'plain-file');
  writeFileSync(fileAsDir, 'x');
  const cases: [string[], RegExp][] = [
    [['-l', '-1', url], /--limit must be a whole number/],
    [['-l', 'ten', url], /--limit must be a whole number/],
    [['-p', '1.5', url], /--per-host must be a whole number/],
    [['-r', 'x', url], /--retries/],
    [['--bogus', url], /unknown option '--bogus'/],
    // commander's suggestion comes on a line of its own: joined, not shown as an escaped \x0a.
    [['--limitt', '3', url], /^bulkget: unknown option '--limitt' \(Did you mean --limit\?\) \(see bulkget --help\)\n$/],
    [['--shard', '3/3', url], /--shard must be K\/N/],
    [['--shard', 'a/b', url], /--shard must be K\/N/],
    [['--timeout', 'soon', url], /--timeout must be a duration/],
    [['--if-exists', 'maybe', url], /--if-exists must be one of skip, update, overwrite/],
    [['--progress', 'fancy', url], /--progress must be one of/],
    [['--max-filesize', 'big', url], /--max-filesize must be a size/],
    [['-H', 'NoColon', url], /--header must look like/],
    [['-q', '-v', url], /--quiet and --verbose/],
    [['-i', '/nonexistent/list.txt'], /cannot read input file \/nonexistent\/list.txt/],
    [['-d', path.join(fileAsDir, 'sub'), url], /cannot write to DEST/],
    [['flags', '-n', '0'], /--first must be a whole number >= 1/],
    [['flags', '-s', 'ftp://x/'], /--server must be/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['--progress', 'none', ...args].filter((a, i) => !(args[0] === 'flags' && i < 2)), { cwd: tmp() });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(s.requests.length, 0);
});

test('--help on every command goes to stdout with exit 0; --version prints the version', async () => {
  for (const args of [['--help'], ['get', '--help'], ['flags', '--help'], ['serve', '--help']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: bulkget/);
    assert.equal(r.stderr, '');
  }
  // `bulkget --help` is the download command's help first (a new user must see --limit), then
  // the other commands.
  const top = await runCli(['--help']);
  assert.match(top.stdout, /^Usage: bulkget \[options\] \[URL\.\.\.\]$/m);
  for (const opt of ['--limit', '--per-host', '--dest', '--input', '--max-time']) assert.match(top.stdout, new RegExp(`^  .*${opt}`, 'm'), opt);
  assert.ok(top.stdout.indexOf('--limit') < top.stdout.indexOf('Commands:'), 'options before commands');
  assert.match(top.stdout, /^  flags \[options\] \[CC\.\.\.\]/m);
  assert.match(top.stdout, /^  serve \[options\]/m);
  assert.match(top.stdout, /Exit status:/);
  const get = await runCli(['get', '--help']);
  assert.match(get.stdout, /--limit/);
  assert.match(get.stdout, /Exit status:/);
  assert.match(get.stdout, /cron/);
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(v.stdout.trim(), pkg.version);
});

test('an empty list is not an error: exit 0 and nothing to download', async () => {
  const r = await runCli(['-d', tmp(), '--progress', 'none'], { stdin: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Nothing to download\./);
});

test('invalid lines are counted with source:line, the run goes on, exit 1', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dir = tmp();
  const list = path.join(dir, 'list.txt');
  writeFileSync(list, `\uFEFF# comment\r\n${s.url('/file/ok.bin?size=10')}\r\n\r\nftp://x/y\r\nnot a url\r\n${s.url('/file/ok2.bin')} ../escape.bin\r\n`);
  const r = await runCli(['-i', list, '-d', path.join(dir, 'out'), '--progress', 'none', '--report', path.join(dir, 'r.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /1 file downloaded/);
  assert.match(r.stdout, /3 invalid input lines\./);
  assert.match(r.stderr, new RegExp(`Invalid input ${list.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: `));
  assert.match(r.stderr, /:6: .*\.\./);
  const report = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8'));
  assert.equal(report.counts.invalid, 3);
  assert.deepEqual(report.failures.map((f: { line: number }) => f.line), [4, 5, 6]);
  assert.ok(report.failures.every((f: { kind: string; source: string }) => f.kind === 'invalid' && f.source === list));
  assert.deepEqual(readdirSync(path.join(dir, 'out')).filter((f) => !f.startsWith('.')), ['ok.bin']);
});

test('exit 1 on not found; the JSON report has the schema of SPEC.md', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dir = tmp();
  const r = await runCli(['-d', dir, '--progress', 'none', '--report', '-', '-r', '0', s.url('/file/a.bin?size=100'), s.url('/status/404'), s.url('/status/500')]);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout); // --report - replaces the text report: stdout is pure JSON
  assert.deepEqual(Object.keys(j), ['version', 'startedAt', 'elapsedMs', 'limits', 'counts', 'bytes', 'retries', 'failures', 'hosts']);
  // One endpoint here: every item is its.
  assert.deepEqual(j.hosts, [{ host: s.url('/').replace(/\/$/, ''), downloaded: 1, failed: 2, bytes: j.bytes, retries: 0 }]);
  assert.deepEqual(j.counts, { downloaded: 1, unchanged: 0, skipped: 0, notFound: 1, failed: 1, invalid: 0 });
  assert.deepEqual(j.limits, { total: 100, perHost: 0 });
  assert.ok(!Number.isNaN(Date.parse(j.startedAt)) && /T.*Z$/.test(j.startedAt));
  assert.ok(j.bytes >= 100);
  const kinds = j.failures.map((f: { kind: string; status: number }) => `${f.kind}:${f.status}`).sort();
  assert.deepEqual(kinds, ['failed:500', 'notFound:404']);
  for (const f of j.failures) assert.deepEqual(Object.keys(f).sort(), ['attempts', 'error', 'kind', 'status', 'url']);
});

test('-q: nothing at all on success; errors only on failure', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const ok = await runCli(['-q', '-d', tmp(), s.url('/file/q.bin')]);
  assert.equal(ok.code, 0);
  assert.equal(ok.stdout + ok.stderr, '');
  const bad = await runCli(['-q', '-r', '0', '-d', tmp(), s.url('/status/500')]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^\*\*\* Error for http:\/\/127\.0\.0\.1:\d+\/status\/500: HTTP 500\n$/);
});

test('--save-failed writes what failed so that `-i FILE` retries exactly those', async (t) => {
  let fail = true;
  const s = await startServer({
    handler: (req, res) => {
      if (req.url!.includes('flaky') && fail) {
        res.writeHead(500);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    },
  });
  t.after(() => s.close());
  const dir = tmp();
  const saved = path.join(dir, 'failed.jsonl');
  const first = await runCli(['-r', '0', '-d', path.join(dir, 'out'), '--progress', 'none', '--save-failed', saved], {
    stdin: `${s.url('/good.bin')}\n${s.url('/flaky.bin')} sub/renamed.bin\n`,
  });
  assert.equal(first.code, 1);
  const lines = readFileSync(saved, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]!).out, 'sub/renamed.bin');
  fail = false;
  const before = s.requests.length;
  const again = await runCli(['-i', saved, '-d', path.join(dir, 'out'), '--progress', 'none']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(s.requests.length - before, 1, 'only the failed item was requested');
  assert.equal(readFileSync(path.join(dir, 'out/sub/renamed.bin'), 'utf8'), 'ok');
});

test('--dry-run prints URL -> path after naming and collision rules, and requests nothing', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dest = path.join(tmp(), 'never-created');
  const input = [
    s.url('/a/data.csv'),
    s.url('/b/data.csv'),
    s.url('/a/data.csv'),
    s.url('/c/data.csv?x=1'),
    s.url('/dir/'),
    s.url('/e%20f.txt') + ' custom/name.txt',
    s.url('/%E2%80%AEtxt.exe'),
  ].join('\n');
  const r = await runCli(['--dry-run', '-d', dest], { stdin: input });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    `${s.url('/a/data.csv')} -> ${dest}/data.csv`,
    `${s.url('/b/data.csv')} -> ${dest}/data-1.csv`,
    `${s.url('/c/data.csv?x=1')} -> ${dest}/data-2.csv`,
    `${s.url('/dir/')} -> ${dest}/index.html`,
    `${s.url('/e%20f.txt')} -> ${dest}/custom/name.txt`,
    // The name keeps its character; the screen shows it escaped, so it cannot pass for `exe.txt`.
    `${s.url('/%E2%80%AEtxt.exe')} -> ${dest}/\\u202etxt.exe`,
  ]);
  assert.equal(s.requests.length, 0);
  assert.equal(existsSync(dest), false);
});

test('--progress lines into a pipe: plain lines, no \\r and no escape sequences', async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const urls = Array.from({ length: 6 }, (_, i) => s.url(`/slow/l${i}?ms=400&size=100`)).join('\n');
  const r = await runCli(['-d', tmp(), '-l', '2', '--progress', 'lines', '--progress-interval', '200ms'], { stdin: urls });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stderr.split('\n').filter(Boolean).length >= 2, r.stderr);
  assert.doesNotMatch(r.stderr, /[\r\x1b]/);
  assert.match(r.stderr, /\/6 files/);
  assert.doesNotMatch(r.stdout, /[\r\x1b]/);
});

test('on a terminal: no URL and no piped input is a usage error; the bar draws on a real pty', { skip: !existsSync('/usr/bin/script') && 'needs util-linux script' }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const dir = tmp();
  mkdirSync(path.join(dir, 'd'));
  const main = path.join(ROOT, 'src/cli/main.ts');
  // Asynchronous on purpose: the test server lives in this process and must keep answering.
  const sh = (cmd: string) =>
    new Promise<{ out: string; code: number }>((resolve) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }, (err, stdout) => {
        resolve({ out: stdout, code: err ? Number((err as { code?: number }).code ?? 1) : 0 });
      });
    });
  const none = await sh(`${process.execPath} --import ${TSX} ${main} -d ${dir}/d`);
  assert.equal(none.code, 2, none.out);
  assert.match(none.out, /no URLs given/);
  const urls = Array.from({ length: 4 }, (_, i) => "'" + s.url(`/slow/t${i}?ms=500&size=1000`) + "'").join(' ');
  const bar = await sh(`${process.execPath} --import ${TSX} ${main} -d ${dir}/d -l 2 ${urls} < /dev/null`);
  assert.equal(bar.code, 0, bar.out);
  assert.match(bar.out, /\r/, 'the bar redraws in place on a terminal');
  assert.match(bar.out, /4 files downloaded/);
});
