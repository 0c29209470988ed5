// `bulkget completion bash|zsh|fish`: scripts made from commander's options, tried in each shell
// that is installed (bash always is; zsh and fish when apt-get installed them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('completion');
const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' }).status === 0;

async function script(shell: string): Promise<string> {
  const r = await runCli(['completion', shell]);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(tmp(), `bulkget.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

test('bash: commands, options, option values, files and folders', async () => {
  const file = await script('bash');
  const dir = tmp();
  mkdirSync(path.join(dir, 'mirror'));
  writeFileSync(path.join(dir, 'urls.txt'), '');
  const complete = (line: string) => {
    const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _bulkget; echo "\${COMPREPLY[*]}"`], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.stderr, '');
    return r.stdout.trim();
  };
  const table: Array<[string, string]> = [
    ['bulkget --li', '--limit'],
    ['bulkget --max-', '--max-retry-wait --max-time --max-redirects --max-filesize --max-speed --max-host-speed'],
    ['bulkget --progress j', 'json'],
    ['bulkget --if-exists u', 'update'],
    ['bulkget -d mi', 'mirror'],
    ['bulkget -i ur', 'urls.txt'],
    ['bulkget fl', 'flags'],
    ['bulkget flags --ser', '--server'],
    ['bulkget flags -s LO', 'LOCAL'],
    ['bulkget serve --err', '--error-port --error-rate'],
    ['bulkget report m', 'merge'],
    ['bulkget completion f', 'fish'],
    ['bulkget --limit 1', ''],
  ];
  for (const [line, want] of table) assert.equal(complete(line), want, line);
});

test('bash: every option of every command is offered (the script is made from the CLI itself)', async () => {
  const file = await script('bash');
  const help = await runCli(['get', '--help']);
  const longs = [...help.stdout.matchAll(/(?:^|\s)(--[a-z][a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
  const text = readFileSync(file, 'utf8');
  const getLine = /^ {4}get\) opts='([^']*)'/m.exec(text)![1]!.split(' ');
  for (const o of new Set(longs)) assert.ok(getLine.includes(o), `${o} offered`);
});

test('zsh: the script loads, registers itself and completes by command', { skip: !has('zsh') && 'zsh is not installed' }, async () => {
  const file = await script('zsh');
  assert.equal(spawnSync('zsh', ['-n', file]).status, 0);
  const run = (line: string, current: number, prefix: string) => {
    const code = `autoload -U compinit; compinit -u -d ${tmp()}/zcd; source ${file}; print "registered \${_comps[bulkget]}";
      _arguments() { print -l -- "$@"; }; _describe() { print "describe $2"; }; _values() { print -l -- "values" "$@"; };
      words=(${line}); CURRENT=${current}; PREFIX=${prefix}; _bulkget`;
    const r = spawnSync('zsh', ['-f', '-c', code], { encoding: 'utf8', env: { ...process.env, HOME: tmp() } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const get = run('bulkget --li', 2, '--li');
  assert.match(get, /^registered _bulkget$/m);
  assert.match(get, /^\(-l --limit\)-l\[at most N connections in total \(0 = no limit\)\]:limit: $/m);
  assert.match(get, /^\(-d --dest\)--dest\[destination folder\]:dest:_files -\/$/m);
  assert.match(get, /^\*:URL:_urls$/m);
  const flags = run('bulkget flags --ser', 3, '--ser');
  assert.match(flags, /^\(-s --server\)--server\[EMBEDDED \| LOCAL \| DELAY \| ERROR \| REMOTE \| base URL\]:server:\(EMBEDDED LOCAL DELAY ERROR REMOTE\)$/m);
  assert.match(run('bulkget fl', 2, 'fl'), /^describe commands$/m);
  assert.match(run('bulkget report ""', 3, '""'), /^merge\[merge the JSON reports/m);
});

test('fish: the script loads and completes', { skip: !has('fish') && 'fish is not installed' }, async () => {
  const file = await script('fish');
  const complete = (line: string) => {
    const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
  };
  assert.deepEqual(complete('bulkget --li'), ['--limit']);
  assert.deepEqual(complete('bulkget --progress '), ['auto', 'bar', 'json', 'lines', 'none']);
  assert.deepEqual(complete('bulkget fl'), ['flags']);
  assert.deepEqual(complete('bulkget flags --ser'), ['--server']);
  assert.deepEqual(complete('bulkget completion '), ['bash', 'fish', 'zsh']);
  assert.ok(complete('bulkget report ').includes('merge'));
});

test('an unknown shell is a usage error', async () => {
  const r = await runCli(['completion', 'tcsh']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'bulkget: completion: unknown shell "tcsh"; choose bash, zsh or fish\n');
});
