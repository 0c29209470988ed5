// What earlier downloads recorded (ETag, Last-Modified, size), for `--if-exists update` and for
// resuming a `.part`. An append-only JSON-lines log: appending is cheap and crash-tolerant, and
// the newest line for a path is the truth.

import { constants, writeSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isDiskFull } from '../errors.js';
import { Hash128 } from '../hash.js';
import { OffsetIndex } from './offset-index.js';
import { Reserve } from './reserve.js';
import { SiblingLog, logName, readRecordAt, scanLog, writeCompacted, type StateRecord } from './state-log.js';

interface Validators {
  etag?: string;
  lastModified?: string;
  size?: number;
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const BATCH_RECORDS = 256;
const BATCH_MS = 200;
const COMPACT_MIN_LINES = 100_000;
// The shortest line is about 30 bytes: below this size the log cannot hold COMPACT_MIN_LINES, so
// close() does not even scan it to decide.
const COMPACT_MIN_BYTES = COMPACT_MIN_LINES * 30;
// Records a full disk holds back, at most (a few thousand lines): past that they are dropped.
const MAX_STALLED = 1 << 20;

interface Pending {
  rel: string;
  line: string;
  gone: boolean;
}

// --- the store -------------------------------------------------------------------------------

export class StateStore {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Bytes in the log file that are on disk: the offset the next flushed record gets. */
  private flushedEnd: number;
  private index: OffsetIndex | null = null;
  private indexReady: Promise<void> | null = null;
  /** Complete lines in the log; known once the index is built. */
  private lines = 0;
  /** Bytes in the log when this run opened it. */
  private readonly openedWith: number;
  private compacting: Promise<void> | null = null;
  private closed = false;
  /** The first write failure: later records are dropped (they only save re-downloads). */
  lastError: Error | undefined;
  /** Bytes of records that a full disk refused, written by the next flush that finds room. */
  private stalled: Buffer | null = null;
  private readonly hash = new Hash128();

  private constructor(
    private readonly file: string,
    private wfh: FileHandle,
    private rfh: FileHandle,
    size: number,
    private readonly siblings: SiblingLog[],
    private readonly reserve: Reserve | null,
  ) {
    this.flushedEnd = size;
    this.openedWith = size;
  }

  /** Opens this run's log (`shard`: one of its own per shard or job) and reads every other one too. */
  static async open(destReal: string, shard?: { k: number; n: number } | string): Promise<StateStore> {
    const dir = join(destReal, '.bulkget');
    await mkdir(dir, { recursive: true });
    const file = join(dir, logName(shard));
    const wfh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | O_NOFOLLOW, 0o644);
    let rfh: FileHandle;
    try {
      rfh = await open(file, constants.O_RDONLY | O_NOFOLLOW);
    } catch (err) {
      await wfh.close();
      throw err;
    }
    let size = (await wfh.stat()).size;
    if (size > 0) {
      // A crash mid-write leaves a line without its newline; end it, or the next record would
      // be glued to the fragment and lost with it.
      const last = Buffer.alloc(1);
      await rfh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        writeSync(wfh.fd, '\n');
        size++;
      }
    }
    const siblings = await SiblingLog.openAll(dir, logName(shard));
    return new StateStore(file, wfh, rfh, size, siblings, await Reserve.make(reserveFile(destReal, shard)));
  }

  /**
   * Makes the reserve of the log `open(destReal, shard)` will open, ahead of it: a --jobs run
   * does so for every job before any starts (jobs.ts). False when it did not fit.
   */
  static async reserveAhead(destReal: string, shard: { k: number; n: number } | string): Promise<boolean> {
    await mkdir(join(destReal, '.bulkget'), { recursive: true });
    return (await Reserve.make(reserveFile(destReal, shard))) !== null;
  }

  /** A completed download. Buffered: losing it in a crash costs a re-download, no more. */
  recordDone(rel: string, url: string, v: Validators & { size: number }): void {
    this.push({ p: rel, u: url, e: v.etag, m: v.lastModified, s: v.size, k: 'done', t: Date.now() });
  }

  /** A download about to write a .part: written at once, since a resume depends on it. */
  recordPart(rel: string, url: string, v: Validators): void {
    this.notePart(rel, url, v);
    this.flush();
  }

  /** A download about to write a .part, recorded with the next batch (within BATCH_MS): for
   *  bodies small enough that a kill -9 in their first moments costs little. */
  notePart(rel: string, url: string, v: Validators): void {
    this.push({ p: rel, u: url, e: v.etag, m: v.lastModified, s: v.size, k: 'part', t: Date.now() });
  }

  /** Forgets what was recorded for rel. */
  forget(rel: string): void {
    this.push({ p: rel, u: '', k: 'gone' });
  }

  private push(rec: StateRecord): void {
    if (this.closed || this.lastError) return;
    this.pending.push({ rel: rec.p, line: JSON.stringify(rec) + '\n', gone: rec.k === 'gone' });
    if (this.pending.length >= BATCH_RECORDS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, BATCH_MS);
      this.timer.unref();
    }
  }

  /**
   * Writes the buffered records in one synchronous append: safe to call from an exit handler.
   * Offsets are given here, not when records are made, so a compaction in progress (which
   * swaps the file) simply keeps them buffered until it is done.
   */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if ((this.pending.length === 0 && !this.stalled) || this.compacting || this.lastError) return;
    const batch = this.pending;
    this.pending = [];
    const lines = Buffer.from(batch.map((r) => r.line).join(''));
    const stalled = this.stalled;
    const buf = stalled ? Buffer.concat([stalled, lines]) : lines;
    this.stalled = null;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.wfh.fd, buf, off, buf.length - off);
      } catch (err) {
        if (isDiskFull(err) && buf.length - off <= MAX_STALLED) {
          // A full disk stops the run: what did not fit waits for the next flush, and close()
          // makes room for it with the reserve once the transfers have stopped writing.
          this.stalled = buf.subarray(off);
          this.flushedEnd += off;
          return;
        }
        this.lastError = err as Error;
        return;
      }
    }
    // After a stall the index is not told (the run is stopping): a lookup may then find an
    // older record of the path, never another path's.
    if (this.index && !stalled) {
      let at = this.flushedEnd;
      for (const r of batch) {
        const { h1, h2 } = this.hash.begin(0).feed(r.rel).end();
        this.index.put(h1, h2, at, r.gone);
        this.lines++;
        at += Buffer.byteLength(r.line);
      }
    }
    this.flushedEnd += buf.length;
  }

  /** The newest record for rel (done or part), or undefined. */
  async lookup(rel: string): Promise<StateRecord | undefined> {
    if (this.compacting) await this.compacting;
    await this.ensureIndex();
    // A record still in the buffer has no offset yet: write it so it can be found.
    for (const r of this.pending) {
      if (r.rel === rel) {
        this.flush();
        break;
      }
    }
    const { h1, h2 } = this.hash.begin(0).feed(rel).end();
    const off = this.index!.get(h1, h2);
    // Fingerprints can collide: only the record itself proves it is about this path.
    let rec = off < 0 ? undefined : await readRecordAt(this.rfh, off);
    if (rec && (rec.p !== rel || rec.k === 'gone')) rec = undefined;
    // Another shard's log may know the path too (the list was split another way before): the
    // newest record wins.
    for (const sib of this.siblings) {
      const other = await sib.lookup(rel, this.hash);
      if (other && (!rec || (other.t ?? 0) > (rec.t ?? 0))) rec = other;
    }
    return rec;
  }

  private ensureIndex(): Promise<void> {
    if (!this.indexReady) this.indexReady = this.buildIndex();
    return this.indexReady;
  }

  private async buildIndex(): Promise<void> {
    this.flush();
    // Created before the scan so that records flushed while it runs land in it too; put()
    // keeps the larger offset, so the order of the two does not matter.
    const index = new OffsetIndex();
    this.index = index;
    this.lines = 0;
    const scanned = await scanLog(this.rfh, this.flushedEnd, (rec, offset) => {
      const { h1, h2 } = this.hash.begin(0).feed(rec.p).end();
      index.put(h1, h2, offset, rec.k === 'gone');
    });
    this.lines += scanned;
  }

  /** Rewrites the log with only the newest record per path (gone paths dropped). */
  async compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    await this.ensureIndex();
    this.flush();
    const run = this.doCompact();
    this.compacting = run;
    try {
      await run;
    } finally {
      this.compacting = null;
    }
    this.flush(); // what was recorded meanwhile goes to the new file
  }

  private async doCompact(): Promise<void> {
    const { written, lines, fresh } = await writeCompacted(this.rfh, this.flushedEnd, this.file, this.index!, this.hash);
    const wfh = await open(this.file, constants.O_WRONLY | constants.O_APPEND | O_NOFOLLOW);
    const rfh = await open(this.file, constants.O_RDONLY | O_NOFOLLOW);
    await this.wfh.close();
    await this.rfh.close();
    this.wfh = wfh;
    this.rfh = rfh;
    this.flushedEnd = written;
    this.index = fresh;
    this.indexReady = Promise.resolve();
    this.lines = lines;
  }

  /** Flushes, compacts a log that is mostly stale lines, and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.compacting) await this.compacting.catch(() => undefined);
    if (this.indexReady) await this.indexReady.catch(() => undefined);
    this.flush();
    try {
      // A log begun by this run holds one line per file plus one per big file's .part: never
      // twice its live records, so only an older log can be worth compacting. Not asking spares
      // a million-file first run a scan of its whole log (and the index it builds) at the end.
      const older = this.openedWith > 0 || this.index !== null;
      if (!this.lastError && !this.stalled && older && this.flushedEnd >= COMPACT_MIN_BYTES) {
        await this.ensureIndex();
        if (this.lines > COMPACT_MIN_LINES && this.lines > 2 * this.index!.live()) await this.compact();
      }
    } finally {
      this.closed = true;
      this.flush();
      // Records a full disk held back: the transfers are over, so the reserve's room is theirs.
      if (this.stalled && this.reserve?.release()) this.flush();
      this.reserve?.release();
      await this.wfh.close().catch(() => undefined);
      await this.rfh.close().catch(() => undefined);
      for (const sib of this.siblings) await sib.close();
    }
  }
}

/** Where the reserve of a log lives: beside it. */
function reserveFile(destReal: string, shard?: { k: number; n: number } | string): string {
  return `${join(destReal, '.bulkget', logName(shard))}.reserve`;
}
