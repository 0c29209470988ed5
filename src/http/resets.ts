// A connection reset that undici takes for the end of a body.
//
// A body with neither Content-Length nor chunked framing ends where the connection does (RFC 9112
// 6.3). undici completes such a body on ECONNRESET as on a clean close (its comment: macOS
// resets sockets after a full body), so a server that died mid-body by RST left a truncated file
// under its final name: a raw server sending 'hello' then RST, bulkget saved 5 bytes and said
// "1 file downloaded"; curl 7.88 fails it ("(56) Recv failure: Connection reset by peer"), and so
// does bulkget now: the exchange treats a body completed inside a reset as cut short.
//
// undici's 'error' listener completes the body synchronously, so a listener put on the socket
// before undici's (by the connector, before it hands the socket over) marks that moment; the mark
// is cleared once the emit is over.

import type { Socket } from 'node:net';

let resetting = false;

function clear(): void {
  resetting = false;
}

function onError(err: Error & { code?: string }): void {
  if (err.code !== 'ECONNRESET') return;
  resetting = true;
  queueMicrotask(clear);
}

/** Called by the connector on every socket it hands to undici, before undici's own listeners. */
export function watchResets(socket: Socket): void {
  socket.on('error', onError);
}

/** Whether undici is now handling a connection reset (a body completing now was cut short). */
export function inReset(): boolean {
  return resetting;
}
