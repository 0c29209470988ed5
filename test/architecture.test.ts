// The shape docs/architecture.md draws, checked: which parts of src/ may import which, no cycles,
// no source file far over 300 lines, the engine free of the process-wide habits of a CLI, and no
// export that nothing imports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/cli.js';

const SRC = path.join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The part of src/ a file belongs to: its folder, or the leaf module itself at the top. */
function partOf(file: string): string {
  const rel = path.relative(SRC, file).replace(/\\/g, '/');
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel.replace(/\.ts$/, '');
}

// Leaves anyone may use: the vocabulary, errors, text escaping, the version, hashing, naming, the
// clock, unique names.
const LEAVES = ['types', 'errors', 'text', 'version', 'hash', 'naming', 'clock', 'unique'];
// Everything else, and what each may import besides leaves and itself. The pipeline stages
// (input -> items -> pool -> transfer -> store) know one another only through types.ts; the
// engine wires them; the UI sees types only; the CLI is an app on the library.
const ALLOWED: Record<string, string[]> = {
  input: [],
  items: [],
  pool: [],
  http: [],
  store: [],
  transfer: ['http', 'store'],
  engine: ['items', 'pool', 'transfer', 'http', 'store'],
  index: ['engine'],
  ui: [],
  serve: [],
  cli: ['index', 'engine', 'ui', 'input', 'serve'],
};

const imports = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'|import\('(\.[^']+)'\)/gm)].map((m) => path.resolve(path.dirname(file), (m[1] ?? m[2])!.replace(/\.js$/, '.ts')));

test('imports go only where docs/architecture.md says they may', () => {
  const wrong: string[] = [];
  for (const f of files(SRC)) {
    const from = partOf(f);
    for (const target of imports(f)) {
      const to = partOf(target);
      if (to === from || LEAVES.includes(to)) continue;
      if (LEAVES.includes(from)) wrong.push(`${path.relative(SRC, f)} (a leaf) imports ${path.relative(SRC, target)}`);
      else if (!(ALLOWED[from] ?? []).includes(to)) wrong.push(`${path.relative(SRC, f)} imports ${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycles between files', () => {
  const graph = new Map(files(SRC).map((f) => [f, imports(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, trail: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(SRC, x)).join(' -> '));
      return;
    }
    state.set(f, 'open');
    // Type-only imports vanish at run time; they may point back.
    const source = readFileSync(f, 'utf8');
    for (const t of graph.get(f) ?? []) {
      const spec = './' + path.relative(path.dirname(f), t).replace(/\\/g, '/').replace(/\.ts$/, '.js');
      const typeOnly = new RegExp(`^import type [^;]*from '${spec.replace(/^\.\/\.\.\//, '../').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'`, 'm').test(source);
      if (!typeOnly) visit(t, [...trail, f]);
    }
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('no source file over ~300 lines', () => {
  const long = files(SRC)
    .map((f) => [path.relative(SRC, f), readFileSync(f, 'utf8').split('\n').length - 1] as const)
    .filter(([, n]) => n > 310);
  assert.deepEqual(long, []);
});

test('the engine prints nothing, exits nothing, traps no signal, forces no GC, sets no flag', () => {
  const engine = files(SRC).filter((f) => !['cli', 'ui', 'serve'].includes(partOf(f)));
  // (process.kill(pid, 0) sends nothing: it asks whether a lock's holder is alive.)
  const habits = /process\.(stdout|stderr|exit|on|once|emit)\b|process\.kill\((?![^)]*, 0\))|console\.|setFlagsFromString|\bgc\(|process\.exitCode/;
  const found = engine.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .map((line, i) => [line, i] as const)
      .filter(([line]) => !/^\s*(\/\/|\*)/.test(line) && habits.test(line))
      .map(([line, i]) => `${path.relative(SRC, f)}:${i + 1}: ${line.trim()}`),
  );
  assert.deepEqual(found, []);
});

test('every export of src/ is imported somewhere (the library entry and the executable aside)', () => {
  const all = files(SRC);
  const used = new Set<string>();
  const sources = [...all, ...files(path.join(ROOT, 'test'))];
  for (const f of sources) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
      for (const name of m[1]!.split(',')) used.add(name.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!);
    }
    for (const m of text.matchAll(/const \{([^}]*)\} = await import\(/g)) for (const name of m[1]!.split(',')) used.add(name.trim());
    for (const m of text.matchAll(/\(await import\('[^']+'\)\)\.(\w+)/g)) used.add(m[1]!);
  }
  const unused: string[] = [];
  for (const f of all) {
    if (f.endsWith(path.join('src', 'index.ts')) || f.endsWith(path.join('cli', 'main.ts'))) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(/^export (?:async )?(?:function|class|const|interface|type|let) (\w+)/gm)) {
      if (!used.has(m[1]!)) unused.push(`${path.relative(SRC, f)}: ${m[1]}`);
    }
  }
  assert.deepEqual(unused, []);
});
