// How a connection ended, as far as the server is concerned.
//
// A body with neither Content-Length nor chunked framing ends where the connection does (RFC 9112
// 6.3). undici completes such a body on ECONNRESET as on a clean close (its comment: macOS
// resets sockets after a full body), so a server that died mid-body by RST left a truncated file
// under its final name: a raw server sending 'hello' then RST, bulkget saved 5 bytes and said
// "1 file downloaded"; curl 7.88 fails it ("(56) Recv failure: Connection reset by peer"), and so
// does bulkget now: the exchange treats a body completed inside a reset as cut short.
// undici's 'error' listener completes the body synchronously, so a listener put on the socket
// before undici's (by the connector, before it hands the socket over) marks that moment; the mark
// is cleared once the emit is over.
//
// A socket we closed ourselves (an aborted transfer) is still counted by the server until it has
// read our RST or FIN, which it may do after it accepted the connection that takes the slot's
// place (a Node server learns of a close only at the end of its loop's turn): closedByUs tells
// the pool to wait a moment before that connection is made.

import type { Socket } from 'node:net';

let resetting = false;
/**
 * Sockets the server closed (its FIN or RST came) or had closed (its `Connection: close`, after
 * which undici drops the socket: a Node server counting sockets saw no more than --limit in 3 runs
 * of 500 such answers, -l 2): it knows they are gone.
 */
const peerGone = new WeakSet<Socket>();

function clear(): void {
  resetting = false;
}

function onError(this: Socket, err: Error & { code?: string }): void {
  if (err.code === 'UND_ERR_INFO' && err.message === 'reset') peerGone.add(this);
  if (err.code !== 'ECONNRESET') return;
  peerGone.add(this);
  resetting = true;
  queueMicrotask(clear);
}

function onEnd(this: Socket): void {
  peerGone.add(this);
}

/** Called by the connector on every socket it hands to undici, before undici's own listeners. */
export function watchResets(socket: Socket): void {
  socket.on('error', onError);
  socket.once('end', onEnd);
}

/** Whether undici is now handling a connection reset (a body completing now was cut short). */
export function inReset(): boolean {
  return resetting;
}

/** Whether we closed `socket` and the server has not closed its side: it may still count it. */
export function closedByUs(socket: Socket): boolean {
  return socket.destroyed && !peerGone.has(socket);
}
