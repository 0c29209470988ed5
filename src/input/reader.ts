// Streaming line readers. Lists can be ten million lines long and arrive through a pipe, so
// lines are produced as bytes arrive and nothing ever holds the whole input.

import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { LINE_BATCHES, type BatchedLines, type RawLine } from '../types.js';
import { SetupError } from '../errors.js';

/**
 * The longest line (in UTF-8 bytes, newline excluded) we accept. Longer lines are not kept:
 * their bytes are dropped as they stream past and the line is yielded with `overlong` set and no
 * text, which the items stage reports as `invalid: line longer than 1 MiB`. This bounds
 * memory even when someone pipes a binary file in by mistake.
 */
export const MAX_LINE = 1 << 20;

const PIECE = 16 << 10; // bytes (or UTF-16 units) of input decoded at a time

/** An input that cannot be opened: a usage-level failure (exit 2) reported before any request. */
export class InputError extends SetupError {}

function tooLong(s: string): boolean {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair is 2 units for 4 bytes), so the
  // exact byte count is only needed in the band where the unit count cannot decide.
  if (s.length * 3 <= MAX_LINE) return false;
  if (s.length > MAX_LINE) return true;
  return Buffer.byteLength(s, 'utf8') > MAX_LINE;
}

/**
 * Every line of `stream`, 1-based, blank and comment lines included (the caller parses them), in
 * batches: the lines that end in one decoded piece of a chunk. An async generator over the
 * stream's own async iterator: while the consumer does not pull, no chunk is read, so the
 * stream's backpressure reaches the pipe or file; a batch is handed over as soon as its piece is
 * decoded, so a line from a slow pipe waits for nothing after it.
 */
export async function* readBatches(stream: NodeJS.ReadableStream | Readable, source: string): AsyncGenerator<RawLine[]> {
  // StringDecoder keeps a multi-byte character split across chunks until its last byte arrives.
  const decoder = new StringDecoder('utf8');
  let carry = ''; // the unfinished line from previous chunks
  let overlong = false; // the unfinished line already passed MAX_LINE; its text was dropped
  let atStart = true;
  let line = 0;

  const finish = (text: string): RawLine => {
    if (overlong || tooLong(text)) return { text: '', source, line: ++line, overlong: true };
    return { text: text.charCodeAt(text.length - 1) === 0x0d ? text.slice(0, -1) : text, source, line: ++line };
  };

  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    // A pipe hands over 64 KiB at a time. Decoded whole, a chunk's text lives until its last line
    // is done, a thousand items later: long enough to survive two scavenges and pile up in the
    // old generation (12.7 MiB of it at the peak of a million-line dry run, 8.7 MiB with 16 KiB
    // pieces). So a chunk is decoded a piece at a time, and each piece's text dies young.
    for (let at = 0; at < chunk.length; at += PIECE) {
      let s =
        typeof chunk === 'string' ? chunk.slice(at, at + PIECE) : decoder.write(chunk.subarray(at, at + PIECE));
      if (s.length === 0) continue;
      if (atStart) {
        atStart = false;
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      }
      let start = 0;
      let nl = s.indexOf('\n');
      if (nl === -1) {
        if (!overlong) {
          carry += s;
          if (carry.length > MAX_LINE) {
            overlong = true;
            carry = '';
          }
        }
        continue;
      }
      // The first newline closes the line carried over from earlier chunks.
      const first = overlong ? '' : carry + s.slice(0, nl);
      const batch = [finish(first)];
      overlong = false;
      carry = '';
      start = nl + 1;
      // Lines wholly inside this chunk: slice straight out of the chunk string.
      while ((nl = s.indexOf('\n', start)) !== -1) {
        batch.push(finish(s.slice(start, nl)));
        start = nl + 1;
      }
      yield batch;
      if (start < s.length) {
        carry = s.slice(start);
        if (carry.length > MAX_LINE) {
          overlong = true;
          carry = '';
        }
      }
    }
  }

  let rest = decoder.end();
  if (atStart && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
  if (rest.length > 0 && !overlong) carry += rest;
  // A final newline ends the last line; only text after it (or an unfinished overlong line) is a line.
  if (carry.length > 0 || overlong) yield [finish(carry)];
}

/** Every line of `stream`, one at a time (see readBatches). */
export async function* readLines(stream: NodeJS.ReadableStream | Readable, source: string): AsyncGenerator<RawLine> {
  for await (const batch of readBatches(stream, source)) yield* batch;
}

/**
 * Opens every input before anything is downloaded, so a typo in a file name is a usage error
 * (exit 2) and not a failure discovered halfway through a run. `-` is stdin, at most once,
 * since a second reader of the same pipe would only see what the first one left.
 */
export async function openInputFiles(paths: string[]): Promise<Array<{ path: string; stream: Readable }>> {
  const opened: Array<{ path: string; stream: Readable }> = [];
  let sawStdin = false;
  try {
    for (const path of paths) {
      if (path === '-') {
        if (sawStdin) throw new InputError('stdin ("-") can be given only once as an input file');
        sawStdin = true;
        opened.push({ path, stream: process.stdin });
        continue;
      }
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        throw new InputError(`cannot read input file ${path}: ${describe(e)}`);
      }
      // Opening a directory succeeds on Linux and only fails on the first read: catch it here.
      // FIFOs and process substitution (<(...)) are fine, so only directories are refused.
      try {
        const st = await fh.stat();
        if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      } catch (e) {
        await fh.close().catch(() => {});
        throw new InputError(`cannot read input file ${path}: ${describe(e)}`);
      }
      opened.push({ path, stream: fh.createReadStream() });
    }
  } catch (e) {
    // Do not leak the descriptors already opened when a later file fails.
    for (const o of opened) if (o.stream !== process.stdin) o.stream.destroy();
    throw e;
  }
  return opened;
}

function describe(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return String(e);
}

/**
 * Positional URLs first (source "argv", line = argument position), then each input in order:
 * line by line as an async iterable, and in batches through LINE_BATCHES (what the engine takes).
 */
export function allLines(args: { urls: string[]; inputs: Array<{ path: string; stream: Readable }> }): BatchedLines {
  async function* batches(): AsyncGenerator<readonly RawLine[]> {
    if (args.urls.length > 0) yield args.urls.map((text, i): RawLine => ({ text, source: 'argv', line: i + 1 }));
    for (const input of args.inputs) yield* readBatches(input.stream, input.path);
  }
  return {
    [LINE_BATCHES]: batches,
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches()) yield* batch;
    },
  };
}
