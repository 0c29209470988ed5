// Loads dist/bulkget.cjs, the bundled CLI (scripts/bundle.mjs), with the V8 code cache that the
// build made of it (scripts/code-cache.cjs): compiled code for the functions a run calls, so
// they are neither parsed nor compiled again. Measured 2026-12-02, one 4 KiB URL into a fresh
// folder, 20 interleaved runs, Node 20.20, medians: 149 ms without the cache, 130 with
// (`node -e 0`: 63 ms). On Node 22+ without a cache made by the same Node, Node's own compile
// cache (turned on by bin/bulkget.js) does the same through require().
//
// A cache is used only when it was made from this very bundle (the build's name, from the
// bundle's last line), by this Node, on this architecture, under these flags; V8 checks its
// version, its flags and the source's length again, and compiles from source when it refuses.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'bulkget.cjs');
const CACHE = `${BUNDLE}.cache`;

/** What a cache must have been made for: this build, this Node, these flags. */
function cacheKey(source) {
  const m = /\/\/# bulkget-build=([0-9a-f]+)\n$/.exec(source.slice(-80));
  if (!m) return null;
  return `bulkget-code-cache 1 ${m[1]} ${process.version} ${process.arch} ${process.execArgv.join(' ')}`;
}

/** The cache's V8 data when it was made for this bundle's `source` and this process, else undefined. */
function cachedDataFor(source) {
  const key = cacheKey(source);
  if (key === null) return undefined;
  let file;
  try {
    file = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const nl = file.indexOf(10);
  if (nl < 0 || file.toString('latin1', 0, nl) !== key) return undefined;
  return file.subarray(nl + 1);
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

/** Runs the CLI: from the code cache when one fits, else through require(). */
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
  if (cachedData === undefined && typeof require('node:module').enableCompileCache === 'function') {
    // Node 22+: its compile cache (on since bin/bulkget.js) is kept per file read by require().
    require(BUNDLE);
    return;
  }
  compile(source, cachedData).run();
}

module.exports = { BUNDLE, CACHE, cacheKey, cachedDataFor, compile, start };
