// The contenders. Each tool turns a workload (a list of {url, name}, a connection budget and an
// output dir) into one command line. Flags are chosen so every tool does the same job: plain HTTP/1.1
// GETs with keep-alive, one connection per file, files written flat into OUT, no config files, no
// side databases (HSTS, xattrs, cookies), no progress output.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { which } from './server.mjs';

const firstLine = (s) => String(s || '').trim().split('\n')[0].trim();

function writeOnce(file, makeText) {
  if (!fs.existsSync(file)) fs.writeFileSync(file, makeText());
  return file;
}

// Plain URL list, one per line: what bulkget, wget2 and aria2c all read.
function urlList(ctx, wl) {
  return writeOnce(path.join(ctx.listDir, `${wl.id}.urls`), () => wl.items.map((it) => `${it.url}\n`).join(''));
}

/** A python3 that has aiohttp (Debian's python3-aiohttp is for /usr/bin/python3), or null. */
function aiohttpPython() {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import aiohttp, sys; print(aiohttp.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { py, version: firstLine(r.stdout) };
  }
  return null;
}

/** The node flags of bin/bulkget.js's trampoline (`exec node FLAGS "$0" "$@"`). */
export function shimFlags(repoDir) {
  const text = fs.readFileSync(path.join(repoDir, 'bin/bulkget.js'), 'utf8');
  return /\bnode ((?:--\S+ )+)"\$0"/.exec(text)?.[1].trim().split(' ') ?? [];
}

/**
 * The environment bin/bulkget.js's shebang gives node: MALLOC_ARENA_MAX=1, and NODE_EXTRA_CA_CERTS
 * handed to bulkget as BULKGET_DEFERRED_CA_CERTS (so that Node 20 does not read it at start).
 */
export function shimEnv(env) {
  const out = { ...env, MALLOC_ARENA_MAX: '1', BULKGET_DEFERRED_CA_CERTS: env.NODE_EXTRA_CA_CERTS ?? '' };
  delete out.NODE_EXTRA_CA_CERTS;
  return out;
}

/**
 * bulkget under another Node.js (NODE24: a node binary, e.g. from `npx -p node@24`): the same
 * shim with the shebang's flags and environment, so the two columns differ only in the runtime.
 */
function bulkgetOn(repoDir, name, node) {
  const flags = shimFlags(repoDir);
  return {
    name,
    available: () => Boolean(node && fs.existsSync(node)),
    version: () => `bulkget on node ${firstLine(spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout)}`,
    env: shimEnv(process.env),
    command: (wl, out, ctx) => ({
      cmd: node,
      args: [
        ...flags, path.join(repoDir, 'bin/bulkget.js'),
        '-i', urlList(ctx, wl), '-d', out, '-l', String(wl.conns),
        ...(wl.perHost ? ['-p', String(wl.perHost)] : []),
        '--progress', 'none', '-q',
      ],
    }),
  };
}

/** bulkget as an installed CLI runs: the executable itself, so its shebang's node flags apply. */
function bulkgetCli(repoDir, name, extra) {
  return {
    name,
    // node is always there; whether bulkget actually works is found out by running it.
    available: () => true,
    version: () => {
      const r = spawnSync(path.join(repoDir, 'bin/bulkget.js'), ['--version'], { cwd: repoDir, encoding: 'utf8', timeout: 10_000 });
      const v = r.status === 0 ? `bulkget ${firstLine(r.stdout)}` : `bulkget (--version failed: ${firstLine(r.stderr) || `status ${r.status}`})`;
      return extra.length ? `${v} ${extra.join(' ')}` : v;
    },
    command: (wl, out, ctx) => ({
      cmd: path.join(repoDir, 'bin/bulkget.js'),
      args: [
        '-i', urlList(ctx, wl), '-d', out, '-l', String(wl.conns),
        ...(wl.perHost ? ['-p', String(wl.perHost)] : []),
        '--progress', 'none', '-q', ...extra,
      ],
    }),
  };
}

export function makeTools(repoDir) {
  const aio = aiohttpPython();
  return [
    bulkgetCli(repoDir, 'bulkget', []),
    // --jobs: the same list on 2 or 4 threads, the budgets split between them.
    bulkgetCli(repoDir, 'bulkget-j2', ['--jobs', '2']),
    { ...bulkgetCli(repoDir, 'bulkget-j4', ['--jobs', '4']), optIn: true },
    {
      name: 'curl',
      available: () => Boolean(which('curl')),
      version: () => firstLine(spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout).split(' ').slice(0, 2).join(' '),
      command: (wl, out, ctx) => {
        // curl takes outputs only as url/output pairs, so its list names the (fixed) output dir.
        const cfg = writeOnce(path.join(ctx.listDir, `${wl.id}.curlrc`), () =>
          wl.items.map((it) => `url = "${it.url}"\noutput = "${path.join(out, it.name)}"\n`).join(''));
        return {
          cmd: 'curl',
          // -q first: ignore ~/.curlrc. curl 7.x has no per-host cap; --parallel-max tops out at 300.
          args: ['-q', '--parallel', '--parallel-max', String(Math.min(wl.conns, 300)), '-s', '-S', '-f', '--config', cfg],
        };
      },
    },
    {
      name: 'wget2',
      available: () => Boolean(which('wget2')),
      version: () => firstLine(spawnSync('wget2', ['--version'], { encoding: 'utf8' }).stdout).replace(/ - .*/, ''),
      command: (wl, out, ctx) => ({
        cmd: 'wget2',
        // wget2 1.99 exits 0 even when downloads fail, so only the output check can judge its runs.
        // No per-host cap exists; --max-threads is the number of concurrent connections.
        args: [
          '--no-config', '--no-netrc', '--no-hsts', '--no-hpkp', '--no-xattr', '--no-robots', '--no-cookies',
          '--progress=none', '-q', '-nd', `--max-threads=${wl.conns}`, '-P', out, '-i', urlList(ctx, wl),
        ],
      }),
    },
    bulkgetOn(repoDir, 'bulkget-n24', process.env.NODE24),
    {
      name: 'aiohttp',
      available: () => Boolean(aio),
      version: () => `aiohttp ${aio.version} (python)`,
      command: (wl, out, ctx) => ({
        cmd: aio.py,
        args: [path.join(repoDir, 'bench/aiohttp_get.py'), urlList(ctx, wl), out, String(wl.conns), String(wl.perHost || 0)],
      }),
    },
    {
      name: 'aria2c',
      available: () => Boolean(which('aria2c')),
      version: () => firstLine(spawnSync('aria2c', ['--version'], { encoding: 'utf8' }).stdout).replace(/ version/, ''),
      command: (wl, out, ctx) => ({
        cmd: 'aria2c',
        // -s 1: aria2's splitting of one file over several connections is turned off so every tool
        // moves one file per connection; -j is then the connection count. -x is capped at 16.
        args: [
          '--no-conf', '-i', urlList(ctx, wl), '-d', out, '-j', String(wl.conns),
          '-x', String(Math.min(wl.perHost || 16, 16)), '-s', '1',
          '--allow-overwrite=true', '--auto-file-renaming=false', '--file-allocation=none',
          '--console-log-level=error', '--summary-interval=0', '--download-result=hide',
          '--show-console-readout=false', '--enable-color=false',
        ],
      }),
    },
  ];
}
