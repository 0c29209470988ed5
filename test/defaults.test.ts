// Default options from ~/.config/bulkget/config and BULKGET_OPTIONS: the command line wins,
// --no-config skips the file, every mistake names its source, `--help -v` says what they set.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { runCli, runWithReport } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { tempDirs } from './helpers/tmp.js';
import { lookupFor, parseConfig, shellWords } from '../src/cli/defaults.js';

const tmp = tempDirs('defaults');

function home(config?: string): { HOME: string; XDG_CONFIG_HOME: string; BULKGET_OPTIONS: string } {
  const dir = tmp();
  if (config !== undefined) {
    mkdirSync(path.join(dir, '.config', 'bulkget'), { recursive: true });
    writeFileSync(path.join(dir, '.config', 'bulkget', 'config'), config);
  }
  return { HOME: dir, XDG_CONFIG_HOME: '', BULKGET_OPTIONS: '' };
}

test('shell words: quotes, escapes, and what is left open', () => {
  assert.deepEqual(shellWords(`-l 16  -H 'X-A: b c' --proxy="http://p:3128" a\\ b ""`), ['-l', '16', '-H', 'X-A: b c', '--proxy=http://p:3128', 'a b', '']);
  assert.deepEqual(shellWords(`"a \\"q\\" \\n"`), ['a "q" \\n']);
  assert.equal(shellWords(`-H 'open`), 'unclosed single quote');
  assert.equal(shellWords(`"open`), 'unclosed double quote');
});

test('config lines: the forms of .curlrc and .wgetrc; mistakes name FILE:LINE', () => {
  const cmd = new Command().option('-l, --limit <n>').option('-k, --insecure').option('-H, --header <h>').option('--max-speed <r>');
  const lookup = lookupFor(cmd);
  const text = ['# comment', '', 'limit 16', '--limit=17', 'limit: 18', '-l 19', 'insecure', 'header = Authorization: Bearer a b', `header "X-Q: 'x'"`, '  max-speed   10M  '].join('\n');
  assert.deepEqual(parseConfig(text, 'cfg', lookup), ['--limit', '16', '--limit', '17', '--limit', '18', '--limit', '19', '--insecure', '--header', 'Authorization: Bearer a b', '--header', "X-Q: 'x'", '--max-speed', '10M']);
  const bad: Array<[string, RegExp]> = [
    ['limt 3', /^cfg:1: unknown option --limt$/],
    ['\n\nlimit', /^cfg:3: --limit needs a value$/],
    ['insecure yes', /^cfg:1: "yes" is not an option/],
    ['header "a" "b"', /^cfg:1: one value per line, got 2$/],
    ['= 3', /^cfg:1: not an option: = 3$/],
  ];
  for (const [t, re] of bad) assert.throws(() => parseConfig(t, 'cfg', lookup), { message: re }, t);
});

test('CLI: the file, then BULKGET_OPTIONS, then the command line; --no-config skips the file', { timeout: 30_000 }, async (t) => {
  const s = await startServer();
  t.after(() => s.close());
  const env = home('limit 7\nper-host 2\n');
  const url = s.url('/file/d.bin?size=10');
  const limits = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await runWithReport(['-d', tmp(), ...args, url], { env: { ...env, ...extra } });
    assert.equal(r.code, 0, r.stderr);
    return r.report.limits;
  };
  assert.deepEqual(await limits([]), { total: 7, perHost: 2 });
  assert.deepEqual(await limits(['-l', '3']), { total: 3, perHost: 2 });
  assert.deepEqual(await limits([], { BULKGET_OPTIONS: '-l 9' }), { total: 9, perHost: 2 });
  assert.deepEqual(await limits(['--limit', '4'], { BULKGET_OPTIONS: '-l 9' }), { total: 4, perHost: 2 });
  assert.deepEqual(await limits(['--no-config'], { BULKGET_OPTIONS: '-l 9' }), { total: 9, perHost: 0 });
  assert.deepEqual(await limits(['--no-config']), { total: 100, perHost: 0 });
  // XDG_CONFIG_HOME, when set, is where the file is.
  const xdg = tmp();
  mkdirSync(path.join(xdg, 'bulkget'));
  writeFileSync(path.join(xdg, 'bulkget', 'config'), 'limit 5\n');
  assert.deepEqual(await limits([], { XDG_CONFIG_HOME: xdg }), { total: 5, perHost: 0 });
  // The flags command takes them too.
  const flags = await runWithReport(['flags', '-d', tmp(), 'cn'], { env });
  assert.deepEqual(flags.report.limits, { total: 7, perHost: 2 });
});

test('CLI: a mistake in the defaults is one line naming its source, exit 2, before any request', async () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [home('limit 7\nretires 2\n'), /^bulkget: .*\/\.config\/bulkget\/config:2: unknown option --retires\n$/],
    [{ ...home(), BULKGET_OPTIONS: 'http://127.0.0.1:9/x' }, /^bulkget: BULKGET_OPTIONS: "http:\/\/127\.0\.0\.1:9\/x" is not an option/],
    [{ ...home(), BULKGET_OPTIONS: '-l' }, /^bulkget: BULKGET_OPTIONS: --limit needs a value\n$/],
    [home('limit x\n'), /^bulkget: --limit must be a whole number/],
  ];
  for (const [env, re] of cases) {
    const r = await runCli(['-d', tmp(), 'http://127.0.0.1:9/a'], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});

test('CLI: --help -v says where the defaults came from, credentials masked; -v says it on stderr', async () => {
  const env = { ...home('header = Authorization: Bearer SECRET\nlimit 7\n'), BULKGET_OPTIONS: '--proxy http://u:pw@127.0.0.1:9' };
  const help = await runCli(['--help', '-v'], { env });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Defaults:\n  defaults from .*\/config: --header 'Authorization: \*\*\*' --limit 7\n  defaults from BULKGET_OPTIONS: --proxy http:\/\/u:\*\*\*@127\.0\.0\.1:9\n/);
  assert.doesNotMatch(help.stdout + help.stderr, /SECRET|pw@/);
  const plain = await runCli(['--help'], { env });
  assert.doesNotMatch(plain.stdout, /defaults from/);
  const none = await runCli(['--help', '-v'], { env: home() });
  assert.match(none.stdout, /config file: .*\/config \(not there\)\n  BULKGET_OPTIONS: not set\n/);
  const dry = await runCli(['-v', '--dry-run', 'http://127.0.0.1:9/a'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /^bulkget: defaults from .*config: --header 'Authorization: \*\*\*' --limit 7\n/);
  assert.doesNotMatch(dry.stderr, /SECRET|pw@/);
});
