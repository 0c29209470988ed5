// Loads dist/bulkget.cjs, the bundled CLI (scripts/bundle.mjs), with a V8 code cache: compiled
// code for the functions a run calls, so they are neither parsed nor compiled again. Measured
// 2026-12-02, one 4 KiB URL into a fresh folder, 20 interleaved runs, medians: Node 20.20 149 ms
// without a cache, 130 with (`node -e 0`: 63 ms); Node 24.21 103 ms through require() under
// Node's own compile cache, 93 with ours (36 ms).
//
// Two places for a cache: the build's (dist/code-*.cache, scripts/code-cache.cjs), made by the
// Node that built the package, under the shebang's flags and under none (`node bin/bulkget.js`);
// and, when neither fits (a package from the registry, a second Node on the machine, other
// flags), the user's own, ~/.cache/bulkget (XDG_CACHE_HOME), written at the end of a run that
// found none.
//
// A cache is used only when it was made from this very bundle (the build's name, from the
// bundle's last line), by this Node, on this architecture, under these flags; V8 checks its
// version, its flags and the source's length again, and compiles from source when it refuses.
// A user cache folder is used only when it is this user's own and no one else may write in it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'bulkget.cjs');

/** What a cache must have been made for: this build, this Node, these flags. */
function cacheKey(source) {
  const m = /\/\/# bulkget-build=([0-9a-f]+)\n$/.exec(source.slice(-80));
  if (!m) return null;
  return `bulkget-code-cache 1 ${m[1]} ${process.version} ${process.arch} ${process.execArgv.join(' ')}`;
}

/**
 * The cache file in `dir` for a Node version, architecture and flags: one per such triple (a
 * newer build overwrites it). FNV-1a of the triple makes a short, stable name.
 */
function cacheFile(dir, version = process.version, arch = process.arch, execArgv = process.execArgv) {
  const tag = `${version}-${arch}-${execArgv.join(' ')}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193) >>> 0;
  return path.join(dir, `code-${h.toString(16).padStart(8, '0')}.cache`);
}

/** The build's caches sit beside the bundle (scripts/code-cache.cjs). */
const BUILT_DIR = path.dirname(BUNDLE);

/** This user's cache folder, or null where there is none to keep one in. */
function userCacheDir(env = process.env) {
  const base = env.XDG_CACHE_HOME || (env.HOME ? path.join(env.HOME, '.cache') : '');
  return base && path.isAbsolute(base) ? path.join(base, 'bulkget') : null;
}

/** The folder holds code we run: it must be ours, and writable by no one else. */
function ownFolder(dir) {
  try {
    const st = fs.lstatSync(dir);
    const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The V8 data in `file` when its first line is `key`, else undefined. */
function readCache(file, key) {
  let data;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = data.indexOf(10);
  if (nl < 0 || data.toString('latin1', 0, nl) !== key) return undefined;
  return data.subarray(nl + 1);
}

/**
 * The V8 data made for this bundle's `source` and this process: the build's cache, else the
 * user's (from a folder of the user's own). Undefined when neither fits.
 */
function cachedDataFor(source, env = process.env) {
  const key = cacheKey(source);
  if (key === null) return undefined;
  const built = readCache(cacheFile(BUILT_DIR), key);
  if (built) return built;
  const dir = userCacheDir(env);
  return dir && ownFolder(dir) ? readCache(cacheFile(dir), key) : undefined;
}

/** Writes `script`'s code cache into `dir` as `key`'s, atomically; a failure leaves things as they were. */
function writeCache(script, key, dir, { own = true } = {}) {
  const file = cacheFile(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (own && !ownFolder(dir)) return false;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`, 'latin1'), script.createCachedData()]), { mode: own ? 0o600 : 0o644, flag: 'wx' });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // not made
    }
    return false;
  }
}

/**
 * The bundle compiled (with `cachedData` when given) and a function that runs it as a CommonJS
 * module would run.
 */
function compile(source, cachedData) {
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  const run = () => {
    const module = { exports: {}, filename: BUNDLE, id: BUNDLE };
    script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE));
  };
  return { script, run };
}

/** Runs the CLI, from a code cache when one fits; a run that found none and ends well leaves one. */
function start() {
  let source;
  try {
    source = fs.readFileSync(BUNDLE, 'utf8');
  } catch (err) {
    if (err && err.code === 'ENOENT') {
      process.stderr.write('bulkget: not built yet; run `npm install` (or `npm run build`) first\n');
      process.exit(2);
    }
    throw err;
  }
  const cachedData = cachedDataFor(source);
  const { script, run } = compile(source, cachedData);
  const key = cacheKey(source);
  if (key !== null && (cachedData === undefined || script.cachedDataRejected)) {
    const dir = userCacheDir();
    if (dir) {
      process.once('exit', (code) => {
        if (code === 0) writeCache(script, key, dir);
      });
    }
  }
  run();
}

module.exports = { BUNDLE, BUILT_DIR, cacheKey, cacheFile, cachedDataFor, compile, start, writeCache };
