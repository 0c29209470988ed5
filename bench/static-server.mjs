// Fallback file server for machines without nginx: node:http with keep-alive, serving one root
// on several loopback ports. It runs as its own process so its event loop never competes with the
// harness's timers, and so it can be stopped by pid like nginx.
//
//   node bench/static-server.mjs ROOT PORT [PORT...]
//
// Prints "ready" on stdout once every port listens. Query strings are ignored (the memory run
// requests one tiny file a million times as /tiny/t.bin?i=N).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const [root, ...ports] = process.argv.slice(2);
if (!root || ports.length === 0) {
  process.stderr.write('usage: node bench/static-server.mjs ROOT PORT [PORT...]\n');
  process.exit(2);
}
const rootAbs = path.resolve(root);

function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-length': 0 });
    res.end();
    return;
  }
  let rel;
  try {
    rel = decodeURIComponent(req.url.split('?')[0]);
  } catch {
    rel = '\0';
  }
  const file = path.join(rootAbs, path.normalize(rel));
  // Refuse anything that resolves outside the root (the harness never asks, but a server should not).
  if (!file.startsWith(rootAbs + path.sep) || rel.includes('\0')) {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': st.size,
      'last-modified': st.mtime.toUTCString(),
    });
    if (req.method === 'HEAD' || st.size === 0) {
      res.end();
      return;
    }
    // Small files in one read and one write: a stream per 4 KiB file costs more than the file.
    if (st.size <= 64 * 1024) {
      fs.readFile(file, (e, buf) => (e ? res.destroy(e) : res.end(buf)));
      return;
    }
    const s = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    s.on('error', (e) => res.destroy(e));
    s.pipe(res);
  });
}

let listening = 0;
const servers = ports.map((p) => {
  const srv = http.createServer({ keepAlive: true }, handle);
  // Match the nginx settings the bench uses: long keep-alive, effectively unlimited requests per socket.
  srv.keepAliveTimeout = 65_000;
  srv.headersTimeout = 70_000;
  srv.maxRequestsPerSocket = 0;
  srv.requestTimeout = 0;
  srv.listen(Number(p), '127.0.0.1', () => {
    if (++listening === ports.length) process.stdout.write('ready\n');
  });
  return srv;
});

const stop = () => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
