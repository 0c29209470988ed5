// Where a kept body goes: its partial file. Small whole bodies are gathered and handed to the
// file writer at the end. Anything else is written as it comes, with positional writev calls on
// the thread pool: chunks that arrive while one write is under way are gathered into the next, so
// there is one round trip per batch, not per 64 KiB chunk, and the copy into the file runs on
// another core while this one parses the next chunks (one 512 MiB file: 1.3 s written inline
// with writeSync, 0.7 s this way). Past a few hundred KiB waiting (see BodyBudget) the response
// is paused: memory stays bounded whatever the file's size. The bytes already received of a body
// that dies in the middle are written before the attempt fails, so the retry's Range starts
// right after them.
//
// The per-chunk path is write(): counters, an optional hash update, and a push.

import { closeSync, writeSync, writev } from 'node:fs';
import type { Hash } from 'node:crypto';
import { discardPart, openPart, writeSmallPart } from './files.js';

// Bytes of one body waiting behind its pending write before the body is paused: 1 MiB for a few
// big files, down to 128 KiB when many stream at once, so that all of them together hold at most
// ~16 MiB (more only past 128 streams, at 128 KiB each), split between the jobs of a --jobs run
// (each its own engine: with 16 MiB apiece, two jobs on 200 x 1 MiB peaked at 149.8 MiB). A
// paused body costs a stop and a restart of its socket's reads and a wait on the thread pool,
// which on this 2-core VM is dear (an async fs call: 13-18 us of the main thread, ~60 us round
// trip). Measured 2026-12-03, 5 interleaved
// rounds, 16 connections: 2,000 x 1 MiB 2.348 -> 2.055 s on Node 20.20 (2.457 -> 2.210 on 24.21),
// 2 x 512 MiB 0.999 -> 0.925 s, 200 x 1 MiB 0.364 -> 0.344 s, for 10-12 MiB more peak RSS
// (116 and 131 MiB); the budget before, 2 MiB in all and 512 KiB at most, had been set for a
// 100 MiB bound. 32 MiB and 2 MiB at most: no faster (2.063 s).
const BATCH_MAX = 1 << 20;
const BATCH_MIN = 128 << 10;
const BATCHES_TOTAL = 16 << 20;

/** The write-batch budget of one run, shared by the bodies streaming at once. */
export class BodyBudget {
  streaming = 0;
  private readonly total: number;
  /** `share`: this engine's part of the process's budget (1 / jobs for each job of a --jobs run). */
  constructor(share = 1) {
    this.total = BATCHES_TOTAL * share;
  }
  limit(): number {
    return Math.min(BATCH_MAX, Math.max(BATCH_MIN, Math.floor(this.total / Math.max(1, this.streaming))));
  }
}

/** A counter a body adds its bytes to (the run's stats, the item's result). */
interface ByteCounter {
  bytes: number;
}

/** The run's: also the bytes announced bodies are still due (Stats.awaited). */
interface RunCounter extends ByteCounter {
  awaited: number;
}

/** How a response body is paused, resumed or stopped (the exchange's dispatch controller). */
interface Flow {
  resume(): void;
  abort(err: Error): void;
}

class FileTooBig extends Error {
  readonly code = 'BULKGET_TOO_BIG';
  constructor(max: number) {
    super(`file grew past --max-filesize (${max} bytes)`);
  }
}

interface BodyFileOptions {
  part: string;
  /** Where the body starts in the file (a resumed partial's length), 0 for a whole body. */
  offset: number;
  /** The whole file's length as the answer announced it, or -1. */
  expectedTotal: number;
  /** Gather the body in memory and write it in one go at the end (small, whole bodies). */
  gather: boolean;
  hash?: Hash;
  maxFilesize: number;
  budget: BodyBudget;
  counters: [RunCounter, ByteCounter];
  /** Told of each streamed chunk once its bytes are on disk (or never will be): its memory may
   *  be read into again (the socket's buffers, src/http/reads.ts). */
  release?: (chunk: Buffer) => void;
}

// The empty batch of a body that is gathered, shared (it is replaced before anything is pushed).
const NO_CHUNKS: Buffer[] = [];

export class BodyFile {
  private fd = -1;
  private chunks: Buffer[] | undefined;
  written: number;
  private position: number;
  private batch: Buffer[] = NO_CHUNKS;
  private batchBytes = 0;
  private writing = false;
  private writeError: Error | undefined;
  private flow: Flow | undefined;
  private paused = false;
  private idle: (() => void) | undefined;
  /** Records a body cut short as a partial file to resume, where nothing recorded it before its
   *  first byte; set when a validator allows. */
  keepCut: (() => void) | undefined;
  readonly hash: Hash | undefined;
  readonly expectedTotal: number;
  private readonly part: string;
  private readonly runStats: RunCounter;
  /** Bytes of the announced length not received yet, counted in runStats.awaited. */
  private left: number;
  private readonly itemStats: ByteCounter;

  constructor(private readonly o: BodyFileOptions) {
    this.part = o.part;
    this.written = o.offset;
    this.position = o.offset;
    this.expectedTotal = o.expectedTotal;
    this.hash = o.hash;
    [this.runStats, this.itemStats] = o.counters;
    this.left = o.expectedTotal >= 0 ? Math.max(0, o.expectedTotal - o.offset) : 0;
    this.runStats.awaited += this.left;
    if (o.gather) this.chunks = [];
    else this.batch = [];
  }

  /** Opens the partial file for a streamed body (appending for a resume). */
  open(): void {
    this.fd = openPart(this.part, this.o.offset > 0 ? 'append' : 'truncate');
    this.o.budget.streaming++;
  }

  attach(flow: Flow): void {
    this.flow = flow;
  }

  write(chunk: Buffer): boolean {
    const n = chunk.length;
    this.written += n;
    this.runStats.bytes += n;
    this.itemStats.bytes += n;
    if (this.left > 0) {
      const d = n < this.left ? n : this.left;
      this.left -= d;
      this.runStats.awaited -= d;
    }
    if (this.o.maxFilesize > 0 && this.written > this.o.maxFilesize) {
      this.flow?.abort(new FileTooBig(this.o.maxFilesize));
      return false;
    }
    this.hash?.update(chunk);
    if (this.chunks) {
      // A view on the socket's read buffer, kept only until the body ends (a few KiB).
      this.chunks.push(chunk);
      return true;
    }
    if (this.batch === NO_CHUNKS) this.batch = []; // a gathered body that was given up
    this.batch.push(chunk);
    this.batchBytes += n;
    if (!this.writing) this.kick();
    this.paused = this.batchBytes >= this.o.budget.limit();
    return !this.paused;
  }

  end(): void | Promise<void> {
    if (this.chunks) return;
    return this.drained().then(() => {
      this.close();
      if (this.writeError) throw this.writeError;
    });
  }

  fail(err: unknown): void | Promise<void> {
    const chunks = this.chunks;
    this.chunks = undefined;
    // Past --max-filesize the file is not kept, not even as a partial to resume.
    const discard = err instanceof FileTooBig;
    if (chunks && chunks.length > 0 && this.keepCut && !discard) {
      try {
        writeSmallPart(this.part, chunks);
        this.keepCut();
      } catch {
        // Only a head start is lost: the retry fetches the whole body.
        discardPart(this.part);
      }
      return;
    }
    if (this.fd < 0) {
      if (discard) discardPart(this.part);
      return;
    }
    return this.drained().then(() => {
      this.close();
      if (discard) discardPart(this.part);
      else this.keepCut?.();
    });
  }

  /** The body takes no more bytes (ended, failed, cut): what it was due is no longer coming. */
  untrack(): void {
    this.runStats.awaited -= this.left;
    this.left = 0;
  }

  /** A small body gathered whole (nothing on disk yet), handed over once. */
  takeGathered(): Buffer[] | undefined {
    const chunks = this.chunks;
    this.chunks = undefined;
    return chunks;
  }

  private kick(): void {
    if (this.writing || this.batch.length === 0 || this.fd < 0) return;
    if (this.writeError) {
      this.batch = [];
      this.batchBytes = 0;
      return;
    }
    const bufs = this.batch;
    const bytes = this.batchBytes;
    const at = this.position;
    this.batch = [];
    this.batchBytes = 0;
    this.position += bytes;
    this.writing = true;
    writev(this.fd, bufs, at, (err, done) => {
      this.writing = false;
      if (!err && done < bytes) {
        // A short write (disk filling up): the rest in place, or the error that says why.
        try {
          writeRest(this.fd, bufs, done, at + done);
        } catch (e) {
          err = e as NodeJS.ErrnoException;
        }
      }
      if (err) {
        this.writeError = err;
        this.flow?.abort(err);
      }
      // Written (or failed for good): the memory under these chunks may be read into again.
      const release = this.o.release;
      if (release) for (const b of bufs) release(b);
      if (this.batch.length > 0) this.kick();
      // The waiting batch has just gone to the disk: a paused body may come again.
      if (this.paused && this.batchBytes < this.o.budget.limit()) {
        this.paused = false;
        this.flow?.resume();
      }
      if (!this.writing) this.idle?.();
    });
  }

  /** Resolves once every byte received so far is written (or failed to be). */
  private drained(): Promise<void> {
    this.kick();
    if (!this.writing && this.batch.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = () => {
        if (this.writing || this.batch.length > 0) return;
        this.idle = undefined;
        resolve();
      };
    });
  }

  private close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      this.o.budget.streaming--;
      closeSync(fd);
    }
  }
}

/** Writes what a short writev left, from byte `skip` of the batch on, at `position`. */
function writeRest(fd: number, bufs: Buffer[], skip: number, position: number): void {
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let off = skip;
    skip = 0;
    while (off < b.length) {
      const n = writeSync(fd, b, off, b.length - off, position);
      off += n;
      position += n;
    }
  }
}
