// Makes dist/code-*.cache, a V8 code cache bin/bundle-loader.js loads the CLI with: one real run
// of the CLI (one small file from a server in this process, into a temporary folder), then the
// compiled code of every function that run called. scripts/bundle.mjs runs this under the
// shebang's V8 flags and under none, as a cache made under other flags is refused.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const loader = require('../bin/bundle-loader.js');

const source = fs.readFileSync(loader.BUNDLE, 'utf8');
const key = loader.cacheKey(source);
if (key === null) throw new Error(`${loader.BUNDLE} does not end with its build name`);
const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'bulkget-code-cache-'));
const body = Buffer.alloc(4096, 'x');
const server = http.createServer((req, res) => res.end(body));
server.listen(0, '127.0.0.1', () => {
  const { script, run } = loader.compile(source, undefined);
  process.on('exit', (code) => {
    fs.rmSync(dest, { recursive: true, force: true });
    // Only after a run that worked: the functions of a failure path are not what users run.
    if (code === 0 && !loader.writeCache(script, key, loader.BUILT_DIR, { own: false })) process.exitCode = 1;
  });
  process.argv = [process.argv[0], path.join(__dirname, '..', 'bin', 'bulkget.js'), '-q', '-d', dest, `http://127.0.0.1:${server.address().port}/w.bin`];
  run();
});
