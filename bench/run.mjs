#!/usr/bin/env node
// npm run bench [-- options]: bulkget against curl, wget2 and aria2c on a local server.
// See bench/README.md for what is measured and why. Progress goes to stderr, the Markdown report to
// stdout and to bench/out/latest.md (plus the raw runs in bench/out/latest.json).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCorpus, verifyOutput } from './corpus.mjs';
import { haveGnuTime, killAllRuns, measure } from './measure.mjs';
import { memBench } from './mem.mjs';
import { failureLines, median, workloadTable } from './report.mjs';
import { startServer } from './server.mjs';
import { makeTools, shimEnv, shimFlags } from './tools.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.resolve(here, '..');

const ALL_PARTS = ['small1', 'small3', 'medium', 'large', 'mem', 'version'];

const HELP = `usage: npm run bench [-- options]

  --quick              smoke run: smaller corpora, 2 rounds, 50,000-URL memory runs (about a minute)
  --rounds N           rounds of the interleaved workloads (default 5; 2 with --quick)
  --only LIST          comma list of ${ALL_PARTS.join(',')} (default: all)
  --tools LIST         comma list of bulkget,bulkget-j2,bulkget-j4,curl,wget2,aria2c,aiohttp,bulkget-n24
                       (default: every one installed but bulkget-j4; bulkget-jN is bulkget --jobs N, bulkget-n24
                       is bulkget on the node binary named by NODE24)
  --scale N            N times the small and medium files (10: 100,000 small, 2,000 medium), so
                       start-up is under a tenth of the run
  --mem-n N            URLs in the big memory runs (default 1000000; 50000 with --quick)
  --server KIND        auto (nginx if installed) | nginx | node (default auto)
  --workdir DIR        corpus, lists and outputs (default /dev/shm/bulkget-bench, else the OS tmpdir)
  --port-base P        first of the three server ports (default 18081)
  --timeout S          kill a run after S seconds and count it FAILED (default 300; 1800 for --mem-n runs)
  --keep               keep the work dir (the corpus is then reused by the next run)
  --build              run \`npm run build\` first even if dist/bulkget.cjs exists
  -h, --help           this text
`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      tools: { type: 'string' },
      scale: { type: 'string', default: '1' },
      'mem-n': { type: 'string' },
      server: { type: 'string', default: 'auto' },
      workdir: { type: 'string' },
      'port-base': { type: 'string', default: '18081' },
      timeout: { type: 'string', default: '300' },
      keep: { type: 'boolean', default: false },
      build: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = (name, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const list = (name, v, allowed) => {
    const xs = v.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = xs.filter((x) => !allowed.includes(x));
    if (bad.length || xs.length === 0) usage(`--${name}: unknown "${bad.join(',')}"; choose from ${allowed.join(',')}`);
    return xs;
  };
  if (!['auto', 'nginx', 'node'].includes(values.server)) usage('--server must be auto, nginx or node');
  const quick = values.quick;
  const shm = '/dev/shm';
  return {
    quick,
    rounds: values.rounds ? int('rounds', values.rounds, 1) : quick ? 2 : 5,
    parts: values.only ? list('only', values.only, ALL_PARTS) : ALL_PARTS,
    tools: values.tools ? list('tools', values.tools, ['bulkget', 'bulkget-j2', 'bulkget-j4', 'curl', 'wget2', 'aria2c', 'aiohttp', 'bulkget-n24']) : null,
    scale: int('scale', values.scale, 1),
    memN: values['mem-n'] ? int('mem-n', values['mem-n'], 10001) : quick ? 50_000 : 1_000_000,
    server: values.server,
    workDir: path.resolve(values.workdir || path.join(fs.existsSync(shm) ? shm : os.tmpdir(), 'bulkget-bench')),
    portBase: int('port-base', values['port-base'], 1),
    timeoutMs: int('timeout', values.timeout, 1) * 1000,
    keep: values.keep,
    build: values.build,
    versionRuns: quick ? 10 : 20,
  };
}

function usage(msg) {
  process.stderr.write(`bench: ${msg}\n(see npm run bench -- --help)\n`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`${msg}\n`);
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
const rmrf = (p) => fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 });

// bulkget may be mid-change while the bench runs: build when dist is missing (tsc still emits when
// some file has type errors, so a partial build is tried rather than given up on).
function ensureBuilt(force) {
  const dist = path.join(repoDir, 'dist', 'bulkget.cjs');
  if (!force && fs.existsSync(dist)) return 'dist/bulkget.cjs present';
  log('bulkget: running npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: repoDir, encoding: 'utf8' });
  if (r.status === 0) return 'built with npm run build';
  const errs = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error TS|ERR!/.test(l));
  return `npm run build exited ${r.status}${errs.length ? `: ${errs.slice(0, 3).join(' | ')}` : ''}`;
}

function workloads(manifest, ports, parts) {
  const byName = (set) => manifest.sets[set];
  const mk = (id, title, set, hosts, conns, perHost) => {
    const list = byName(set);
    const items = list.map((f, i) => ({ url: `http://127.0.0.1:${ports[i % hosts]}/${set}/${f.name}`, name: f.name }));
    return { id, title, set, hosts, conns, perHost, items, expected: list, bytes: list.reduce((a, f) => a + f.size, 0) };
  };
  const s = manifest.sizes;
  const n = s.small.toLocaleString('en-US');
  const all = [
    mk('small1', `${n} × 4 KiB, one host, 64 connections`, 'small', 1, 64, 0),
    // 32 per host: three hosts could take 96, so the total of 64 is what binds, and a pool that let
    // one host hog the total would show.
    mk('small3', `${n} × 4 KiB over 3 hosts (3 ports), 64 connections, 32 per host`, 'small', 3, 64, 32),
    mk('medium', `${s.medium} × 1 MiB, 16 connections`, 'medium', 1, 16, 0),
    mk('large', `${s.large} × ${s.largeSize / 1048576} MiB, 4 connections, 4 per host`, 'large', 1, 4, 4),
  ];
  return all.filter((w) => parts.includes(w.id));
}

async function main() {
  const opt = parseOptions();
  const startedAt = new Date();
  const tStart = performance.now();
  const loadBefore = loadavg();
  const corpusRoot = path.join(opt.workDir, 'corpus');
  const listDir = path.join(opt.workDir, 'lists');
  const tmpDir = path.join(opt.workDir, 'tmp');
  const outDir = path.join(opt.workDir, 'out');
  fs.mkdirSync(opt.workDir, { recursive: true });
  rmrf(listDir); // lists embed ports and sizes: always rewritten
  rmrf(outDir);
  for (const d of [listDir, tmpDir]) fs.mkdirSync(d, { recursive: true });

  const ports = [opt.portBase, opt.portBase + 1, opt.portBase + 2];
  const tools = makeTools(repoDir).filter((t) => (opt.tools ? opt.tools.includes(t.name) : !t.optIn));
  const missing = tools.filter((t) => !t.available()).map((t) => t.name);
  const active = tools.filter((t) => t.available());
  if (opt.tools && missing.length) log(`not installed, skipped: ${missing.join(', ')}`);

  const wantsBulkget = active.some((t) => t.name === 'bulkget') || opt.parts.includes('mem') || opt.parts.includes('version');
  const buildNote = wantsBulkget ? ensureBuilt(opt.build) : 'not needed';
  const versions = Object.fromEntries(active.map((t) => [t.name, t.version()]));
  for (const t of active) log(`tool: ${versions[t.name]}`);
  if (!haveGnuTime) log('note: /usr/bin/time not found (apt-get install -y time); CPU and RSS are sampled from /proc (approx)');

  const manifest = await ensureCorpus(corpusRoot, opt.quick, log, opt.scale);
  let server;
  const cleanup = () => {
    killAllRuns();
    if (server) server.killSync();
    if (!opt.keep) rmrf(opt.workDir);
  };
  process.on('SIGINT', () => { log('interrupted'); cleanup(); process.exit(130); });
  process.on('SIGTERM', () => { cleanup(); process.exit(143); });

  server = await startServer({ kind: opt.server, workDir: opt.workDir, root: corpusRoot, ports, log });

  const wls = workloads(manifest, ports, opt.parts);
  const runs = []; // { round, workload, tool, ok, reason, wall, cpu, ... }
  const failures = [];
  const ctx = { listDir };

  try {
    // --- version: first, while nothing else has warmed or loaded the machine ----------------------
    let versionResult = null;
    if (opt.parts.includes('version')) versionResult = versionBench(opt.versionRuns, { port: ports[0], workDir: opt.workDir });

    // --- the interleaved rounds ------------------------------------------------------------------
    for (let round = 1; round <= opt.rounds && wls.length && active.length; round++) {
      // Rotate both orders each round so no tool always runs first (cold caches, fresh TIME_WAITs)
      // and no workload always follows the same one.
      const wOrder = wls.map((_, i) => wls[(i + round - 1) % wls.length]);
      const tOrder = active.map((_, i) => active[(i + round - 1) % active.length]);
      for (const wl of wOrder) {
        for (const tool of tOrder) {
          rmrf(outDir);
          fs.mkdirSync(outDir, { recursive: true });
          const { cmd, args } = tool.command(wl, outDir, ctx);
          const timeoutMs = opt.timeoutMs;
          const m = await measure(cmd, args, { cwd: repoDir, timeoutMs, stdin: 'ignore', stdout: 'capture', tmpDir, env: tool.env });
          let reason = null;
          if (m.timedOut) reason = `timed out after ${timeoutMs / 1000}s`;
          else if (m.signal) reason = `killed by ${m.signal}`;
          else if (m.code !== 0) reason = `exit status ${m.code}`;
          // Verify even after a bad status: the output says whether it was partial or nothing at all.
          const why = verifyOutput(outDir, wl.set, wl.expected);
          if (why) reason = reason ? `${reason}; ${why}` : `output wrong: ${why}`;
          const ok = !reason;
          const rec = { round, workload: wl.id, tool: tool.name, ok, reason, wall: m.wall, user: m.user, sys: m.sys, cpu: m.cpu, rssMiB: m.rssMiB, approx: m.approx };
          runs.push(rec);
          if (!ok) failures.push({ ...rec, stderr: (m.stderr || m.stdout || '').trim() });
          log(`[round ${round}/${opt.rounds}] ${wl.id.padEnd(6)} ${tool.name.padEnd(7)} ${ok ? `${m.wall.toFixed(3)}s cpu ${m.cpu.toFixed(2)}s rss ${m.rssMiB.toFixed(0)}MiB` : `FAILED (${reason})`}`);
          rmrf(outDir);
        }
      }
    }

    // --- memory: bulkget only, a long list on stdin -----------------------------------------------
    let memResults = null;
    if (opt.parts.includes('mem')) memResults = await memBench(opt, ports[0], tmpDir, outDir, { repoDir, log });

    const loadAfter = loadavg();
    const elapsed = (performance.now() - tStart) / 1000;
    const md = renderReport({
      opt, startedAt, elapsed, loadBefore, loadAfter, server, versions, missing, buildNote, manifest, wls,
      active, runs, failures, versionResult, memResults,
    });
    process.stdout.write(md);
    const outMd = path.join(here, 'out');
    fs.mkdirSync(outMd, { recursive: true });
    fs.writeFileSync(path.join(outMd, 'latest.md'), md);
    fs.writeFileSync(path.join(outMd, 'latest.json'), JSON.stringify({ startedAt, elapsed, loadBefore, loadAfter, server: server.name, versions, runs, versionResult, memResults, options: opt }, null, 1));
    log(`bench: done in ${elapsed.toFixed(0)}s; report in bench/out/latest.md`);
  } finally {
    await server.stop();
    if (!opt.keep) rmrf(opt.workDir);
    else rmrf(outDir);
  }
}

/**
 * Start-up, on this Node and on NODE24 when given: `--version`, and a real run of one 4 KiB URL
 * into a fresh folder, beside `node -e 0` (the floor any Node CLI pays on this machine), so a slow
 * result reads as bulkget's own start-up or this machine's Node. The executable runs as users run
 * it (its shebang's flags apply); on NODE24 the same shim runs under that binary.
 */
function versionBench(n, { port, workDir }) {
  const shim = path.join(repoDir, 'bin/bulkget.js');
  const flags = shimFlags(repoDir);
  const runtimes = [{ label: `node ${process.version}`, node: null }];
  if (process.env.NODE24 && fs.existsSync(process.env.NODE24)) {
    const v = spawnSync(process.env.NODE24, ['--version'], { encoding: 'utf8' }).stdout.trim();
    runtimes.push({ label: `node ${v}`, node: process.env.NODE24 });
  }
  // Node 20 reads the certificates NODE_EXTRA_CA_CERTS names as every process starts (Node 24 when
  // TLS first needs them): ~45 ms of `node -e 0` on the bench machine, where the sandbox sets it.
  // bulkget's shebang hands the variable over to bulkget instead (src/http/trust.ts), but `node -e
  // 0` pays it: a row without it tells that cost apart; the checks stay on the environment as is.
  if (process.env.NODE_EXTRA_CA_CERTS) {
    runtimes.push({ label: `node ${process.version}, NODE_EXTRA_CA_CERTS unset`, node: null, unset: 'NODE_EXTRA_CA_CERTS', diagnostic: true });
  }
  const url = `http://127.0.0.1:${port}/small/f00000.bin`;
  let k = 0;
  // Through the shebang (rt.node null) env applies it itself; another node gets what it would give.
  const envFor = (rt, floor = false) => {
    const env = rt.node === null || floor ? { ...process.env } : shimEnv(process.env);
    if (rt.unset) delete env[rt.unset];
    return env;
  };
  const time = (rt, args) => {
    const node = rt.node;
    const [cmd, argv] = node === null ? [shim, args] : [node, [...flags, shim, ...args]];
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, argv, { cwd: repoDir, encoding: 'utf8', timeout: 10_000, env: envFor(rt) });
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: r.status === 0, out: (r.stdout || '').trim(), err: (r.stderr || '').trim() };
  };
  const series = (rt, args, count) => {
    const runs = Array.from({ length: count }, () => time(rt, typeof args === 'function' ? args() : args));
    const ok = runs.filter((r) => r.ok);
    return {
      runs: count,
      ok: ok.length,
      medianMs: median(ok.map((r) => r.ms)),
      minMs: Math.min(...ok.map((r) => r.ms)),
      maxMs: Math.max(...ok.map((r) => r.ms)),
      printed: ok[0]?.out ?? null,
      error: ok.length < count ? runs.find((r) => !r.ok).err.split('\n').slice(0, 5).join('\n') : null,
    };
  };
  const oneUrl = () => {
    const dest = path.join(workDir, `startup-${k++}`);
    return ['-q', '-d', dest, url];
  };
  const results = [];
  for (const rt of runtimes) {
    // Warm the page cache (and, on Node 22+, the compile cache) once; not counted.
    time(rt, ['--version']);
    time(rt, oneUrl());
    const floorRuns = Array.from({ length: Math.min(n, 10) }, () => {
      const t0 = process.hrtime.bigint();
      spawnSync(rt.node ?? process.execPath, ['-e', '0'], { env: envFor(rt, true) });
      return Number(process.hrtime.bigint() - t0) / 1e6;
    });
    const res = { label: rt.label, diagnostic: Boolean(rt.diagnostic), version: series(rt, ['--version'], n), oneUrl: series(rt, oneUrl, n), nodeFloorMs: median(floorRuns) };
    for (let i = 0; i < k; i++) rmrf(path.join(workDir, `startup-${i}`));
    log(`startup (${rt.label}): --version ${res.version.medianMs.toFixed(1)} ms, one URL ${res.oneUrl.medianMs.toFixed(1)} ms (node -e 0: ${res.nodeFloorMs.toFixed(1)} ms)`);
    results.push(res);
  }
  return results;
}

function renderReport(r) {
  const { opt, manifest } = r;
  const L = [];
  L.push(`## bulkget benchmark${opt.quick ? ' (--quick)' : ''}`, '');
  L.push(`- date: ${r.startedAt.toISOString()}; total bench time ${r.elapsed.toFixed(0)} s; ${opt.rounds} round(s), tools and workloads interleaved and rotated each round`);
  L.push(`- machine: ${cpuModel()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`);
  L.push(`- load average (1/5/15 min): before ${r.loadBefore}; after ${r.loadAfter}`);
  // The client and the server share the machine's cores: any other busy process skews every column.
  const load1 = Number(r.loadBefore.split(' ')[0]);
  if (load1 > 0.5) L.push(`- **warning**: the machine was not idle when the bench started (1-min load ${load1}); other processes compete with client and server for the ${os.cpus().length} cores`);
  L.push(`- server: ${r.server.name} ${r.server.version}, 127.0.0.1 ports ${opt.portBase}–${opt.portBase + 2}, corpus and downloads in ${opt.workDir} (${fsType(opt.workDir)})`);
  L.push(`- tools: ${Object.values(r.versions).join('; ')}${r.missing.length ? `; not installed: ${r.missing.join(', ')}` : ''}`);
  L.push(`- bulkget build: ${r.buildNote}`);
  L.push(`- measured with ${haveGnuTime ? 'GNU time (CPU = user+sys of the client process, peak RSS = its max resident set)' : '/proc sampling (approx)'}; wall = harness clock; medians over verified runs; MB = 10^6 bytes`);
  L.push('');
  for (const wl of r.wls) {
    const names = r.active.map((t) => t.name);
    const { lines } = workloadTable(wl, names, (t) => r.runs.filter((x) => x.workload === wl.id && x.tool === t));
    L.push(...lines);
  }
  const checks = [];
  if (r.versionResult) {
    L.push('### startup: `bin/bulkget.js --version`, and one 4 KiB URL downloaded into a fresh folder', '');
    L.push('| runtime | --version median ms (min–max) | one URL median ms (min–max) | node -e 0 median ms | printed |', '|---|---|---|---|---|');
    const cell = (x) => (x.ok ? `${x.medianMs.toFixed(1)} (${x.minMs.toFixed(1)}–${x.maxMs.toFixed(1)})${x.ok < x.runs ? ` (${x.ok}/${x.runs} ok)` : ''}` : `FAILED: ${x.error}`);
    for (const v of r.versionResult) L.push(`| ${v.label} | ${cell(v.version)} | ${cell(v.oneUrl)} | ${v.nodeFloorMs.toFixed(1)} | \`${v.version.printed}\` |`);
    L.push('');
    for (const v of r.versionResult.filter((x) => !x.diagnostic)) {
      checks.push([`\`--version\` at most 80 ms (median, ${v.label})`, v.version.ok ? `${v.version.medianMs.toFixed(1)} ms` : 'FAILED', v.version.ok === v.version.runs && v.version.medianMs <= 80]);
      checks.push([`one-URL run at most 110 ms (median, ${v.label})`, v.oneUrl.ok ? `${v.oneUrl.medianMs.toFixed(1)} ms` : 'FAILED', v.oneUrl.ok === v.oneUrl.runs && v.oneUrl.medianMs <= 110]);
    }
  }
  if (r.memResults) {
    const M = r.memResults;
    L.push(`### mem: bulkget with a URL list piped on stdin (\`-i - -l 64\`, tiny 16-byte file requested as \`?i=N\`, output \`dNNNN/tNNNNNNN\`)`, '');
    L.push('| mode | URLs | runs | ok | wall s | URLs/s | CPU s | peak RSS MiB (median of the runs; min–max) |', '|---|---|---|---|---|---|---|---|');
    for (const x of M) {
      const range = x.runs > 1 ? ` (${fmt(x.rssMin, 1)}–${fmt(x.rssMax, 1)})` : '';
      L.push(`| ${x.mode} | ${x.n.toLocaleString('en-US')} | ${x.runs} | ${x.ok ? 'yes' : `**FAILED**: ${x.reason}`} | ${fmt(x.wall, 2)} | ${x.ok ? Math.round(x.n / x.wall).toLocaleString('en-US') : '–'} | ${fmt(x.cpu, 2)} | ${fmt(x.rssMiB, 1)}${range} |`);
    }
    L.push('');
    for (const mode of ['dry-run', 'real']) {
      const [a, b] = M.filter((x) => x.mode === mode);
      if (!a || !b) continue;
      const delta = b.rssMiB - a.rssMiB;
      const okBoth = a.ok && b.ok;
      // SPEC: at most 32 bytes per item beyond the in-flight window (issue #12's check).
      const perItem = (delta * 1048576) / (b.n - a.n);
      checks.push([`${mode}: ${b.n.toLocaleString('en-US')} URLs at most 32 bytes per item over 10,000`, okBoth ? `${perItem.toFixed(1)} B/item (${a.rssMiB.toFixed(1)} → ${b.rssMiB.toFixed(1)} MiB)` : 'FAILED run', okBoth && perItem <= 32]);
    }
    for (const x of M.filter((y) => !y.ok && y.stderr)) L.push(`- mem ${x.mode} ${x.n}: stderr:`, '', '  ```', ...x.stderr.split('\n').map((l) => `  ${l}`), '  ```', '');
  }
  // Peak RSS over every verified bulkget run (workloads and memory runs alike).
  const bRuns = r.runs.filter((x) => x.tool === 'bulkget' && x.ok);
  const memOk = (r.memResults || []).filter((x) => x.ok);
  const peaks = [...bRuns.map((x) => x.rssMiB), ...memOk.map((x) => x.rssMiB)];
  if (peaks.length) {
    const peak = Math.max(...peaks);
    checks.push(['bulkget peak RSS at most 150 MiB (every verified run)', `${peak.toFixed(1)} MiB`, peak <= 150]);
  }
  // Issue #12's targets, as ratios of medians from this run.
  const rateOf = (tool, wl) => {
    const ok = r.runs.filter((x) => x.tool === tool && x.workload === wl.id && x.ok);
    if (!ok.length) return NaN;
    const wall = median(ok.map((x) => x.wall));
    return wl.set === 'small' ? wl.items.length / wall : wl.bytes / wall;
  };
  const target = (wlId, peer, min) => {
    const wl = r.wls.find((w) => w.id === wlId);
    if (!wl) return;
    const ratio = rateOf('bulkget', wl) / rateOf(peer, wl);
    if (Number.isFinite(ratio)) checks.push([`${wlId}: bulkget at least ${min}× ${peer}`, `${ratio.toFixed(2)}×`, ratio >= min]);
  };
  target('small1', 'curl', 0.6);
  target('small3', 'curl', 0.6);
  target('medium', 'aiohttp', 1.0);
  target('medium', 'curl', 0.5);
  target('large', 'curl', 1.0);
  target('large', 'wget2', 0.7);
  for (const wl of r.wls.filter((w) => w.set === 'small')) {
    const ok = r.runs.filter((x) => x.tool === 'bulkget' && x.workload === wl.id && x.ok);
    if (ok.length) {
      const us = (median(ok.map((x) => x.cpu)) * 1e6) / wl.items.length;
      checks.push([`bulkget CPU per small file (${wl.id}) at most 80 µs`, `${us.toFixed(0)} µs`, us <= 80]);
    }
  }
  const bulkFails = r.runs.filter((x) => x.tool === 'bulkget' && !x.ok).length;
  if (r.runs.some((x) => x.tool === 'bulkget')) checks.push(['bulkget runs verified', `${bRuns.length}/${bRuns.length + bulkFails}`, bulkFails === 0]);
  if (checks.length) {
    L.push('### checks (from the issue)', '', '| check | result | |', '|---|---|---|');
    for (const [what, val, pass] of checks) L.push(`| ${what} | ${val} | ${pass === null ? '' : pass ? 'PASS' : '**FAIL**'} |`);
    L.push('');
  }
  L.push(...failureLines(r.failures));
  return `${L.join('\n')}\n`;
}

const fmt = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function cpuModel() {
  try {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : os.cpus()[0]?.model || 'unknown CPU';
  } catch {
    return os.cpus()[0]?.model || 'unknown CPU';
  }
}

function fsType(dir) {
  try {
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').trim().split('\n').map((l) => l.split(' '));
    let best = null;
    for (const [, mnt, type] of mounts) {
      if ((dir === mnt || dir.startsWith(mnt.endsWith('/') ? mnt : `${mnt}/`)) && (!best || mnt.length > best[0].length)) best = [mnt, type];
    }
    return best ? best[1] : 'unknown fs';
  } catch {
    return 'unknown fs';
  }
}

main().catch((err) => {
  log(`bench: ${err && err.stack ? err.stack : err}`);
  killAllRuns();
  process.exit(1);
});
