// Writing the end-of-run outputs: with back-pressure, to files that may be FIFOs, as JSON that
// holds no raw control character, as lines that hold no line break.

import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { escapeControls } from '../text.js';

/** Writes with back-pressure, so a long failure list is never queued in memory behind a slow pipe. */
export async function put(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  failIfBroken(out);
  if (out.write(chunk)) return;
  // 'drain' never comes to a stream that failed or closed meanwhile: wait for whichever happens.
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      out.removeListener('drain', onDrain);
      out.removeListener('error', onError);
      out.removeListener('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new Error('report output closed before the report was written'));
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}

function failIfBroken(out: NodeJS.WritableStream): void {
  if (out instanceof Writable && (out.errored || out.destroyed)) {
    throw out.errored ?? new Error('report output closed before the report was written');
  }
}

/**
 * fs.openSync(file, 'w'), except that a FIFO nobody reads is an error (ENXIO) instead of an open
 * that blocks the whole process for good, where not even Ctrl-C gets through. A FIFO with a reader
 * (`--save-failed >(gzip > failed.gz)`) is opened as usual.
 */
export function openForWriting(file: string, mode = 0o666): number {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    // Not there yet: created by the open below.
  }
  if (st?.isFIFO()) {
    // Non-blocking, this open fails at once when no process has the FIFO open for reading.
    let probe: number;
    try {
      probe = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw new Error('it is a FIFO that no process is reading');
      throw err;
    }
    try {
      return fs.openSync(file, 'w'); // a reader is there: this does not block
    } finally {
      fs.closeSync(probe);
    }
  }
  const fd = fs.openSync(file, 'w', mode);
  // An existing regular file keeps its old mode through open(): set ours.
  if (mode !== 0o666 && (st === undefined || st.isFile())) fs.fchmodSync(fd, mode);
  return fd;
}

/**
 * JSON with no raw control character in it: JSON.stringify escapes C0 but leaves DEL and the C1
 * controls as they are (U+009B alone is a CSI on many terminals), and the bidi overrides (which
 * reorder a line on screen); those become \u escapes too, which JSON.parse turns back exactly.
 */
export function safeJson(v: unknown, space?: number): string {
  return JSON.stringify(v, null, space).replace(/[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One line, no control characters: a line break would split a record, an ESC drive a terminal. */
export function oneLine(s: string): string {
  return escapeControls(s.replace(/[\r\n]+/g, ' '));
}
