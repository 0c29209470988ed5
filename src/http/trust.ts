// Certificates to trust besides Node's bundled roots, from a PEM file: what NODE_EXTRA_CA_CERTS
// does, but read when the first TLS connection is made instead of at every start.
//
// Node 20 reads NODE_EXTRA_CA_CERTS as the process starts, before any code of ours runs: with the
// Debian bundle (/etc/ssl/certs/ca-certificates.crt, ~140 certificates) that was 45 ms of every
// `node -e 0` here (70 ms instead of 25; Node 24 reads it lazily and showed no difference). The
// CLI's shebang therefore hands the variable to BULKGET_DEFERRED_CA_CERTS (bin/bulkget.js), and the
// engine trusts the file itself, through DownloadOptions.extraCaCerts, on https connections only.

import type { SecureContext } from 'node:tls';

const contexts = new Map<string, SecureContext | null>();

/**
 * One TLS context per file and process that trusts Node's roots and the file's certificates, made
 * at the first call. Undefined where the file cannot be read or holds no usable certificate: Node
 * then goes on with its own roots (and warns), and so do we; a server that needed the file fails
 * its certificate check, which says why.
 */
export function extraTrust(file: string): SecureContext | undefined {
  let ctx = contexts.get(file);
  if (ctx === undefined) {
    ctx = null;
    try {
      const pem = process.getBuiltinModule('node:fs').readFileSync(file, 'latin1');
      const tls = process.getBuiltinModule('node:tls');
      ctx = tls.createSecureContext({ ca: [...tls.rootCertificates, pem] });
    } catch {
      // unreadable or not PEM: Node's roots alone
    }
    contexts.set(file, ctx);
  }
  return ctx ?? undefined;
}
