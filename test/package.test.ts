// The npm package as a user gets it: `npm pack`, installed into a fresh project, imported from
// plain JavaScript (ESM) and type-checked from TypeScript. Nothing from the registry: the packed
// tarball is unpacked into the project's node_modules and its dependencies linked from ours.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, collect } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('package');
const built = existsSync(path.join(ROOT, 'dist/index.js'));

test('npm pack: a fresh project imports bulkget from JavaScript and type-checks a TypeScript user', { skip: !built && 'needs npm run build', timeout: 120_000 }, async () => {
  const dir = tmp();
  // --ignore-scripts: `prepare` would rebuild dist/ under the other tests running now.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
  const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info!.files.map((f) => f.path);
  for (const need of ['package.json', 'bin/bulkget.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/bulkget.cjs', 'bin/bundle-loader.js', 'fixtures/country_codes.txt', 'fixtures/flags/cn.gif']) {
    assert.ok(files.includes(need), `ships ${need}`);
  }
  for (const file of files) assert.doesNotMatch(file, /^(src|test|bench|examples|docs|\.ci)\/|tsconfig|\.map$/, `does not ship ${file}`);

  const project = path.join(dir, 'project');
  const modules = path.join(project, 'node_modules');
  mkdirSync(path.join(modules, 'bulkget'), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(dir, info!.filename), '-C', path.join(modules, 'bulkget'), '--strip-components=1']);
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name !== '.bin' && name !== 'bulkget' && !name.startsWith('.')) symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));

  // Plain JavaScript, ESM: a local server, two files, the summary.
  writeFileSync(
    path.join(project, 'main.mjs'),
    `
import http from 'node:http';
import { download, SetupError } from 'bulkget';
import pkg from 'bulkget/package.json' with { type: 'json' };
const server = http.createServer((req, res) => res.end('body of ' + req.url));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = 'http://127.0.0.1:' + server.address().port;
const dl = download([base + '/a.txt', { url: base + '/b', out: 'b.txt' }], { dest: process.argv[2], limit: 2 });
const outcomes = [];
for await (const r of dl) outcomes.push(r.out + ':' + r.outcome);
const summary = await dl.done;
server.close();
console.log(JSON.stringify({ outcomes: outcomes.sort(), counts: summary.counts, version: pkg.version, setupError: typeof SetupError }));
`,
  );
  const js = await collect(spawn(process.execPath, ['main.mjs', path.join(dir, 'dest')], { cwd: project }));
  assert.equal(js.code, 0, js.stderr);
  const got = JSON.parse(js.stdout) as { outcomes: string[]; counts: { downloaded: number }; version: string; setupError: string };
  assert.deepEqual(got.outcomes, ['a.txt:downloaded', 'b.txt:downloaded']);
  assert.equal(got.counts.downloaded, 2);
  assert.equal(got.setupError, 'function');

  // TypeScript: the shipped types describe the API; a wrong option type is an error.
  const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], skipLibCheck: false } };
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['user.ts'] }));
  writeFileSync(
    path.join(project, 'user.ts'),
    `
import { download, plan, BulkgetError, type DownloadOptions, type ItemResult, type Stats, type Summary } from 'bulkget';
const options: DownloadOptions = { dest: 'out', limit: 8, perHost: 2, retries: 5, timeout: 30_000, ifExists: 'update', signal: new AbortController().signal };
export async function run(): Promise<number> {
  const dl = download(['https://example.com/a.iso', { url: 'https://example.com/b.iso', out: 'b.iso' }], options);
  dl.on('progress', (s: Stats) => void s.bytes);
  dl.on('retry', (r) => void r.reason.length);
  dl.on('result', (r: ItemResult) => void r.outcome);
  for await (const r of dl) if (r.outcome === 'failed') console.log(r.error ?? '');
  const summary: Summary = await dl.done.catch((e: unknown) => { if (e instanceof BulkgetError) throw e; throw e; });
  for await (const p of plan(['https://example.com/c'])) if ('item' in p) console.log(p.item.out);
  dl.abort();
  return summary.counts.downloaded + dl.stats.queued;
}
`,
  );
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const ok = await collect(spawn(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }));
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['wrong.ts'] }));
  writeFileSync(path.join(project, 'wrong.ts'), `import { download } from 'bulkget';\ndownload(['x'], { limit: '8' });\n`);
  const bad = await collect(spawn(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }));
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /wrong\.ts.*limit|Type 'string' is not assignable to type 'number'/s);
});
