// Small finished files go to disk on a helper thread.
//
// A small download costs open + write + close + rename: four system calls, ~45 us of the main
// thread per file on the bench machine, a quarter of all it does per file. The helper thread takes
// them in batches (one message each way per batch, not per file), so they run on the other core
// while the main thread parses the next responses (10,000 x 4 KiB: ~2.6 s -> ~2.0 s here).
//
// The bytes travel through one SharedArrayBuffer used as a ring: a body is copied in once (a few
// KiB: far cheaper than the calls), so the socket's read buffer it came in is free at once, and
// no buffer is allocated per file or per batch. A body that does not fit (ring full, or bigger than
// a quarter of it) is written inline, as it is when the thread cannot start; so memory stays
// bounded and a slow disk slows the main thread down to its pace.

import { utimesSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { commitPart, discardPart, writeSmallPart } from './files.js';

const RING_BYTES = 1 << 20;

// The thread takes ~60 ms to boot (a V8 isolate and Node's bootstrap), wall time a run of a few
// files would wait on before its first file is in place (strace of a one-URL run: the thread was
// made 59 ms before it wrote the file, the process exited 24 ms after that).
// The first files are written inline instead (~45 us each), and the thread is started only for a
// run that goes on past them.
const INLINE_FIRST = 32;

/** `mtime`: seconds since the epoch to give the file (the server's Last-Modified), or -1. */
type Job = [part: string, target: string, start: number, end: number, mtime: number];
type JobError = [code: string, message: string] | null;
interface Reply {
  id: number;
  errors: JobError[];
}
interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}
interface Sent {
  waiters: Waiter[];
  jobs: Job[];
  /** Ring offset just past the batch's last body: where the free space starts once it is done. */
  end: number;
}

export class SmallFileWriter {
  private worker: Worker | null | undefined; // undefined: not started yet; null: unavailable
  private ring: Uint8Array | undefined;
  private head = 0; // next free ring offset
  private tail = 0; // first ring offset still in use
  private used = 0; // bytes in use (unsent and in flight)
  private nextId = 0;
  private jobs: Job[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private readonly inFlight = new Map<number, Sent>();
  private failed = false;
  private drained: (() => void) | undefined;
  /** Files still to be written inline before the thread is started. */
  private inlineLeft: number;

  /** `inlineFirst`: how many files to write inline before starting the thread. */
  constructor(o: { inlineFirst?: number } = {}) {
    this.inlineLeft = o.inlineFirst ?? INLINE_FIRST;
  }

  /**
   * Writes `chunks` (the whole body) as the partial file `part`, gives it `mtime` (seconds, -1 =
   * now), then renames it to `target`. Resolves once the file is in place; rejects with the file
   * system's error (no partial is left behind).
   */
  put(part: string, target: string, chunks: Buffer[], length: number, mtime = -1): Promise<void> {
    if (this.worker === undefined) {
      if (this.inlineLeft > 0) {
        this.inlineLeft--;
        return this.writeNow(part, target, chunks, mtime);
      }
      this.start();
    }
    const at = this.worker && !this.failed ? this.alloc(length) : -1;
    if (at < 0) return this.writeNow(part, target, chunks, mtime);
    const ring = this.ring!;
    let p = at;
    for (const c of chunks) {
      ring.set(c, p);
      p += c.length;
    }
    this.jobs.push([part, target, at, at + length, mtime]);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      // After this turn's I/O callbacks: the files of every response parsed in it, together.
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  /** Waits for every file handed over, then stops the thread. */
  async close(): Promise<void> {
    this.flush();
    if (this.inFlight.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private writeNow(part: string, target: string, chunks: Buffer[], mtime: number): Promise<void> {
    return this.writeNowFrom(() => {
      writeSmallPart(part, chunks);
      if (mtime >= 0) utimesSync(part, mtime, mtime);
      commitPart(part, target);
    }, part);
  }

  /** Runs the steps; on failure no partial file is left behind. */
  private writeNowFrom(steps: () => void, part: string): Promise<void> {
    try {
      steps();
      return Promise.resolve();
    } catch (err) {
      try {
        discardPart(part);
      } catch {
        // the error that matters is the first one
      }
      return Promise.reject(err as Error);
    }
  }

  /** A contiguous ring range of `length` bytes, or -1. Ranges are freed in the order taken. */
  private alloc(length: number): number {
    if (length > RING_BYTES / 4) return -1;
    if (this.used === 0) this.head = this.tail = 0;
    let at = -1;
    if (this.used === 0 || this.head > this.tail) {
      if (RING_BYTES - this.head >= length) at = this.head;
      else if (this.tail > length) at = 0; // wrap; the end of the ring stays unused this round
    } else if (this.tail - this.head > length) {
      at = this.head;
    }
    if (at < 0) return -1;
    this.used += length + (at === 0 && this.head !== 0 ? RING_BYTES - this.head : 0);
    this.head = at + length;
    return at;
  }

  private start(): void {
    try {
      const shared = new SharedArrayBuffer(RING_BYTES);
      // The thread's code is the function below, as source: no separate file to find at run
      // time (dist/ or the tests' src/), and it needs nothing but node:fs. `__name`: esbuild
      // (tsx, which runs the tests) wraps named functions in that helper.
      const source = `var __name = (f) => f;\n(${writerThread.toString()})();`;
      // node:worker_threads is loaded here, not at start: a run of a few files never needs it.
      const worker = new (process.getBuiltinModule('node:worker_threads').Worker)(source, {
        eval: true,
        // The host's flags are not the thread's business (--input-type, --import hooks...).
        execArgv: [],
        workerData: shared,
        // It holds a few small messages at a time; the limits keep its heap small.
        resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
        stdout: false,
        stderr: false,
      });
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (this.worker) this.fail(new Error(`file writer thread exited (${code})`));
      });
      worker.unref();
      this.ring = new Uint8Array(shared);
      this.worker = worker;
    } catch {
      this.worker = null;
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.jobs.length === 0) return;
    const jobs = this.jobs;
    const sent: Sent = { waiters: this.waiters, jobs, end: this.head };
    this.jobs = [];
    this.waiters = [];
    const worker = this.worker;
    if (!worker || this.failed) {
      this.writeInline(jobs, sent);
      return;
    }
    const id = this.nextId++;
    this.inFlight.set(id, sent);
    // While files are in flight the thread must keep the process alive; idle, it must not.
    if (this.inFlight.size === 1) worker.ref();
    worker.postMessage({ id, jobs });
  }

  private settle(reply: Reply): void {
    const sent = this.inFlight.get(reply.id);
    if (!sent) return;
    this.inFlight.delete(reply.id);
    this.release(sent);
    for (let i = 0; i < sent.waiters.length; i++) {
      const w = sent.waiters[i]!;
      const e = reply.errors[i];
      if (!e) w.resolve();
      else if (e[0] === 'EXDEV') {
        // The target folder is another file system (a mount point inside DEST): the thread left
        // the written partial file for a copy from here.
        const [part, target] = sent.jobs[i]!;
        this.writeNowFrom(() => commitPart(part, target), part).then(w.resolve, w.reject);
      } else w.reject(Object.assign(new Error(e[1]), { code: e[0] }));
    }
    if (this.inFlight.size === 0) this.idle();
  }

  private release(sent: Sent): void {
    // Batches finish in the order sent, so everything before this batch's end is free now.
    const freed = sent.end >= this.tail ? sent.end - this.tail : RING_BYTES - this.tail + sent.end;
    this.used = Math.max(0, this.used - freed);
    this.tail = sent.end;
  }

  private fail(_err: Error): void {
    // The thread is gone (it could not start, or died): what it had not answered is written
    // here instead -- the bytes are still in the ring -- and so is every later file.
    this.failed = true;
    const pending = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const sent of pending) this.writeInline(sent.jobs, sent);
    this.idle();
  }

  private idle(): void {
    this.worker?.unref();
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  private writeInline(jobs: Job[], sent: Sent): void {
    const ring = this.ring!;
    for (let i = 0; i < jobs.length; i++) {
      const [part, target, start, end, mtime] = jobs[i]!;
      const w = sent.waiters[i]!;
      this.writeNow(part, target, [Buffer.from(ring.buffer, start, end - start)], mtime).then(w.resolve, w.reject);
    }
    this.release(sent);
  }
}

/**
 * The helper thread, run from its source text (so it must not use anything from this module's
 * scope). Same steps as writeSmallPart + commitPart in files.ts: a fresh partial created with
 * O_EXCL | O_NOFOLLOW (never through a planted link), written, closed, renamed into place.
 */
function writerThread(): void {
  // getBuiltinModule, not require: the evaluated source is read as an ES module when the host
  // process runs with --input-type=module, and as CommonJS otherwise; this works in both.
  const fs = process.getBuiltinModule('node:fs');
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
  const bytes = new Uint8Array(workerData as SharedArrayBuffer);
  const C = fs.constants;
  const FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | (C.O_NOFOLLOW ?? 0);
  const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? 'EIO';
  const create = (part: string): number => {
    try {
      return fs.openSync(part, FLAGS, 0o644);
    } catch (e) {
      if (codeOf(e) !== 'EEXIST') throw e;
    }
    try {
      fs.unlinkSync(part);
    } catch (e) {
      if (codeOf(e) !== 'ENOENT') throw e;
    }
    return fs.openSync(part, FLAGS, 0o644);
  };
  parentPort!.on('message', (batch: { id: number; jobs: Array<[string, string, number, number, number]> }) => {
    const errors: Array<[string, string] | null> = [];
    for (const [part, target, start, end, mtime] of batch.jobs) {
      let created = false;
      try {
        const fd = create(part);
        created = true;
        try {
          let off = start;
          while (off < end) off += fs.writeSync(fd, bytes, off, end - off);
          if (mtime >= 0) fs.futimesSync(fd, mtime, mtime);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(part, target);
        errors.push(null);
      } catch (e) {
        // EXDEV: the caller copies the partial file across instead.
        if (created && codeOf(e) !== 'EXDEV') {
          try {
            fs.unlinkSync(part);
          } catch {
            // already gone
          }
        }
        errors.push([codeOf(e), (e as Error)?.message ?? String(e)]);
      }
    }
    parentPort!.postMessage({ id: batch.id, errors });
  });
}
