// A header repeated with the same value is one header (RFC 9110 5.3 and 8.6: `Content-Length: 5`
// twice, or `Content-Length: 5, 5`, are the same length), and curl and wget accept both. undici's
// parser refuses them, so such a file could never be downloaded. Before the parser sees a
// response head, this folds those repeats into one line; different values are left alone (that
// answer is broken, and the parser says so). A Content-Length beside Transfer-Encoding is dropped,
// as RFC 9112 says a recipient should treat it.
//
// It sits on the socket undici reads from: each head is looked at once, the body passes through
// untouched. A head starts after each request written (pipelining is 1: the next answer can only
// follow our next request) and after an interim 1xx head.

import type { Socket } from 'node:net';

const CRLFCRLF = Buffer.from('\r\n\r\n');
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
    while (inHead && at < chunk.length) {
      const end = chunk.indexOf(CRLFCRLF, at);
      if (end < 0) {
        if (chunk.length - at > MAX_HEAD) {
          inHead = false; // not ours to judge: the parser will refuse it
          break;
        }
        // Wait for the rest of the head, reading on while the socket has more for us.
        carry = chunk.subarray(at);
        const more = read.call(this) as Buffer | null;
        if (more === null) return out.length ? Buffer.concat(out) : null;
        chunk = Buffer.concat([carry, more]);
        carry = undefined;
        at = 0;
        continue;
      }
      const head = chunk.toString('latin1', at, end + 2);
      out.push(needsFolding(head) ? Buffer.from(fold(head) + '\r\n', 'latin1') : chunk.subarray(at, end + 4));
      at = end + 4;
      // An interim answer (100 Continue, 102 Processing, 103 Early Hints): another head follows.
      inHead = /^HTTP\/\d(?:\.\d)? 1\d\d/.test(head);
    }
    if (at < chunk.length) out.push(chunk.subarray(at));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  } as Socket['read'];
}

// Control characters other than tab inside a header line: undici's parser refuses the whole head
// (curl and wget take it); they become `_`, and what is shown of the value is sanitised anyway.
const CONTROL_IN_LINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Cheap test: repeated or listed Content-Length, one beside Transfer-Encoding, a control char. */
function needsFolding(head: string): boolean {
  if (CONTROL_IN_LINE.test(head)) return true;
  const first = head.search(/\r\ncontent-length[ \t]*:/i);
  if (first < 0) return false;
  if (/\r\ntransfer-encoding[ \t]*:/i.test(head)) return true;
  const rest = head.slice(first + 2);
  const eol = rest.indexOf('\r\n');
  return rest.slice(0, eol < 0 ? undefined : eol).includes(',') || /\r\ncontent-length[ \t]*:/i.test(rest);
}

/**
 * The head (status line and header lines, each ending in CRLF) with repeated Content-Length
 * values folded: `5, 5` becomes `5`, and a later line with the same value is dropped.
 */
export function fold(head: string): string {
  const lines = head.split('\r\n');
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
