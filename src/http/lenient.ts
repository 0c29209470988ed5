// A header repeated with the same value is one header (RFC 9110 5.3 and 8.6: `Content-Length: 5`
// twice, or `Content-Length: 5, 5`, are the same length), and curl and wget accept both. undici's
// parser refuses them, so such a file could never be downloaded. Before the parser sees a
// response head, this folds those repeats into one line; different values are left alone (that
// answer is broken, and the parser says so). A Content-Length beside Transfer-Encoding is dropped,
// as RFC 9112 says a recipient should treat it. Bare LF line ends become CRLF and a header folded
// over two lines (obs-fold) is joined, as curl reads both; an unasked-for 100 Continue is skipped.
//
// It sits on the socket undici reads from: each head is looked at once, the body passes through
// untouched. A head starts after each request written (pipelining is 1: the next answer can only
// follow our next request) and after an interim 1xx head.

import type { Socket } from 'node:net';

/** Anything longer is no head undici accepts either: passed on as it is. */
const MAX_HEAD = 64 << 10;

/** Folds repeated equal Content-Length headers in every response head read from `socket`. */
export function foldRepeatedLengths(socket: Socket): void {
  const read = socket.read;
  const write = socket.write;
  let inHead = true;
  let carry: Buffer | undefined;
  socket.write = function (this: Socket, ...args: unknown[]) {
    inHead = true;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
  socket.read = function (this: Socket, size?: number) {
    let chunk = read.call(this, size) as Buffer | string | null;
    if (!inHead || chunk === null || typeof chunk === 'string') return chunk;
    if (carry) {
      chunk = Buffer.concat([carry, chunk]);
      carry = undefined;
    }
    const out: Buffer[] = [];
    let at = 0;
    let last = 0; // bytes before this offset are in `out` already
    let dropped = false;
    while (inHead && at < chunk.length) {
      // The head is [at, end): its lines with their line ends; the blank line ends before `next`.
      const next = headEnd(chunk, at);
      const end = next < 0 ? -1 : chunk[next - 2] === 0x0d ? next - 2 : next - 1;
      if (next < 0) {
        if (chunk.length - at > MAX_HEAD) {
          inHead = false; // not ours to judge: the parser will refuse it
          break;
        }
        // Wait for the rest of the head, reading on while the socket has more for us.
        carry = chunk.subarray(at);
        if (last < at) out.push(chunk.subarray(last, at));
        const more = read.call(this) as Buffer | null;
        if (more === null) return out.length ? Buffer.concat(out) : null;
        chunk = Buffer.concat([carry, more]);
        carry = undefined;
        at = 0;
        last = 0;
        continue;
      }
      // An interim answer (100 Continue, 102 Processing, 103 Early Hints): another head follows.
      // `HTTP/1.1 1xx`: the status starts at byte 9.
      inHead = chunk[at + 9] === 0x31 && chunk[at + 8] === 0x20;
      if (inHead && chunk[at + 10] === 0x30 && chunk[at + 11] === 0x30 && chunk[at + 12] !== undefined && !isDigit(chunk[at + 12]!)) {
        // `100 Continue`, which undici refuses when no request asked for it (we never send
        // `Expect`): skipped, as curl does. Other 1xx heads go to the parser, which skips them.
        if (last < at) out.push(chunk.subarray(last, at));
        last = next;
        dropped = true;
      } else if (needsFolding(chunk, at, end)) {
        out.push(chunk.subarray(last, at), Buffer.from(fold(chunk.toString('latin1', at, end)) + '\r\n', 'latin1'));
        last = next;
      }
      at = next;
    }
    // The usual answer needs nothing: the chunk goes on as it came, no copy, no slice.
    if (out.length === 0 && !dropped) return chunk;
    if (last < chunk.length) out.push(chunk.subarray(last));
    const result = Buffer.concat(out);
    // All that came was a skipped head: read on, so the caller never gets an empty chunk.
    return result.length > 0 ? result : this.read(size);
  } as Socket['read'];
}

// Control characters other than tab inside a header line: undici's parser refuses the whole head
// (curl and wget take it); they become `_`, and what is shown of the value is sanitised anyway.
const CONTROL_IN_LINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/**
 * The offset just past the blank line that ends the head starting at `at`, or -1 while it has not
 * all come. Lines may end in a bare LF (curl and wget take such heads; the parser does not).
 */
function headEnd(buf: Buffer, at: number): number {
  for (let i = buf.indexOf(0x0a, at); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    const b = buf[i + 1];
    if (b === 0x0a) return i + 2;
    if (b === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');

/** Whether the bytes at `at` spell `name` (lower case), in any case. */
function startsWithName(buf: Buffer, at: number, end: number, name: Buffer): boolean {
  if (end - at < name.length) return false;
  for (let k = 0; k < name.length; k++) if ((buf[at + k]! | 0x20) !== name[k]) return false;
  return true;
}

/**
 * One pass over the head's bytes, no string made: repeated or listed Content-Length, one beside
 * Transfer-Encoding, a control character, a bare LF line end or a folded line. Almost every head
 * passes straight through.
 */
function needsFolding(buf: Buffer, start: number, end: number): boolean {
  let lengths = 0;
  let chunked = false;
  let inLength = false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0x0a) return true; // a bare LF line end
    if (b === 0x0d && buf[i + 1] === 0x0a) {
      i++;
      // A line that starts with a space or a tab continues the one before (obs-fold).
      if (i + 1 < end && (buf[i + 1] === 0x20 || buf[i + 1] === 0x09)) return true;
      inLength = startsWithName(buf, i + 1, end, CONTENT_LENGTH);
      if (inLength) lengths++;
      else if (startsWithName(buf, i + 1, end, TRANSFER_ENCODING)) chunked = true;
      continue;
    }
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) return true;
    if (b === 0x2c && inLength) return true; // `Content-Length: 5, 5`
  }
  return lengths > 1 || (lengths > 0 && chunked);
}

/**
 * The head (status line and header lines, each ending in CRLF) with repeated Content-Length
 * values folded: `5, 5` becomes `5`, and a later line with the same value is dropped.
 */
export function fold(head: string): string {
  // Bare LF line ends become CRLF; a continuation line (obs-fold) joins the line before with one
  // space, as RFC 9112 5.2 lets a recipient do.
  const lines: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (lines.length > 1 && line !== '' && (line[0] === ' ' || line[0] === '\t')) lines[lines.length - 1] += ' ' + line.trim();
    else lines.push(line);
  }
  // With Transfer-Encoding, Content-Length is to be ignored (RFC 9112 6.3), as curl does; undici's
  // parser refuses the pair outright.
  const chunked = lines.some((l) => /^transfer-encoding[ \t]*:/i.test(l));
  let length: string | undefined;
  const kept: string[] = [];
  for (let line of lines) {
    if (CONTROL_IN_LINE.test(line)) line = line.replace(new RegExp(CONTROL_IN_LINE.source, 'g'), '_');
    const m = /^content-length[ \t]*:(.*)$/i.exec(line);
    if (!m) {
      kept.push(line);
      continue;
    }
    if (chunked) continue;
    const values = m[1]!.split(',').map((v) => v.trim());
    const same = values.every((v) => v === values[0]) && /^\d+$/.test(values[0]!);
    if (!same) {
      kept.push(line); // conflicting values: left for the parser to refuse
      continue;
    }
    if (length === undefined) {
      length = values[0]!;
      kept.push(`Content-Length: ${length}`);
    } else if (length !== values[0]) {
      kept.push(line);
    }
    // The same value again: dropped.
  }
  return kept.join('\r\n');
}
