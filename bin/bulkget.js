#!/usr/bin/env node
// Thin shim: the compiled CLI lives in dist/ (built by `npm install` via the prepare script).
import('../dist/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    process.stderr.write('bulkget: not built yet; run `npm install` (or `npm run build`) first\n');
    process.exit(2);
  }
  throw err;
});
