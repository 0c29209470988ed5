// Reading state logs (see state.ts): every well-formed line in order, or one record at an offset;
// and the logs of the other shards of DEST, read-only. A torn last line (a crash mid-write) is
// skipped, a foreign line ignored.

import { constants, writeSync } from 'node:fs';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hash128 } from '../hash.js';
import { OffsetIndex } from './offset-index.js';

const READ_CHUNK = 1 << 20;

type RecordKind = 'done' | 'part' | 'gone';

/** One line of DEST/.bulkget/state.jsonl. */
export interface StateRecord {
  p: string; // path relative to DEST
  u: string; // URL ('' for gone)
  e?: string; // ETag
  m?: string; // Last-Modified
  s?: number; // size in bytes
  k: RecordKind;
  t?: number; // when it was written (ms since the epoch): across shards' logs the newest wins
}

/**
 * The log a run writes: `state.jsonl`, or one per shard (or per job of a --jobs run, `tag`) so
 * that runs at once never share a file.
 */
export function logName(shard?: { k: number; n: number } | string): string {
  if (typeof shard === 'string') return `state-${shard}.jsonl`;
  return shard ? `state-shard-${shard.k}-of-${shard.n}.jsonl` : 'state.jsonl';
}

const LOG_NAME = /^state(-[a-z0-9-]+)?\.jsonl$/;

/**
 * Another run's log in DEST (another shard's, or the unsharded one), read as it was when this run
 * began: records of items this run may also have (a list sharded differently before).
 */
export class SiblingLog {
  private index: OffsetIndex | undefined;
  private ready: Promise<void> | undefined;

  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  static async openAll(dir: string, own: string): Promise<SiblingLog[]> {
    const out: SiblingLog[] = [];
    for (const name of (await readdir(dir)).sort()) {
      if (name === own || !LOG_NAME.test(name)) continue;
      try {
        const fh = await open(join(dir, name), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
        out.push(new SiblingLog(fh, (await fh.stat()).size));
      } catch {
        // gone meanwhile, or not a file of ours
      }
    }
    return out;
  }

  async lookup(rel: string, hash: Hash128): Promise<StateRecord | undefined> {
    this.ready ??= this.build(hash);
    await this.ready;
    const { h1, h2 } = hash.begin(0).feed(rel).end();
    const off = this.index!.get(h1, h2);
    if (off < 0) return undefined;
    const rec = await readRecordAt(this.fh, off);
    return rec && rec.p === rel && rec.k !== 'gone' ? rec : undefined;
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => undefined);
  }

  private async build(hash: Hash128): Promise<void> {
    const index = new OffsetIndex();
    await scanLog(this.fh, this.size, (rec, offset) => {
      const { h1, h2 } = hash.begin(0).feed(rec.p).end();
      index.put(h1, h2, offset, rec.k === 'gone');
    });
    this.index = index;
  }
}

export function parseRecord(text: string): StateRecord | undefined {
  try {
    const r = JSON.parse(text) as StateRecord;
    if (r && typeof r.p === 'string' && (r.k === 'done' || r.k === 'part' || r.k === 'gone')) return r;
  } catch {
    // a torn or foreign line: ignored
  }
  return undefined;
}

/**
 * Calls fn for every complete, well-formed line in [0, limit). A last line without its
 * newline (a torn write) is not complete and is skipped. Returns the number of complete lines.
 */
export async function scanLog(
  fh: FileHandle,
  limit: number,
  fn: (rec: StateRecord, offset: number, raw: Buffer) => void,
): Promise<number> {
  let lines = 0;
  let carry = Buffer.alloc(0);
  let carryStart = 0; // file offset of carry[0]
  let pos = 0;
  const chunk = Buffer.alloc(READ_CHUNK);
  while (pos < limit) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(READ_CHUNK, limit - pos), pos);
    if (bytesRead === 0) break;
    const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    const base = carry.length ? carryStart : pos;
    pos += bytesRead;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      if (nl > start) {
        lines++;
        const rec = parseRecord(data.toString('utf8', start, nl));
        if (rec) fn(rec, base + start, data.subarray(start, nl + 1));
      }
      start = nl + 1;
    }
    // Copy: `data` may be the reused chunk buffer.
    carry = Buffer.from(data.subarray(start));
    carryStart = base + start;
  }
  return lines;
}

export async function readRecordAt(fh: FileHandle, offset: number): Promise<StateRecord | undefined> {
  let size = 4096;
  for (;;) {
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, offset);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl >= 0) return parseRecord(buf.toString('utf8', 0, nl));
    if (bytesRead < size || size >= 64 << 20) return undefined;
    size *= 4; // a very long URL
  }
}

/**
 * Rewrites the log at `file` with only the newest record per path (`newest` knows its offset;
 * gone paths dropped): into a temporary file renamed over it, which is atomic, so a crash leaves
 * either the old log or the new one, never half of each. Returns the new log's index.
 */
export async function writeCompacted(
  rfh: FileHandle,
  limit: number,
  file: string,
  newest: OffsetIndex,
  hash: Hash128,
): Promise<{ written: number; lines: number; fresh: OffsetIndex }> {
  const tmp = `${file}.compact-${process.pid}`;
  await unlink(tmp).catch(() => undefined);
  const out = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o644);
  const fresh = new OffsetIndex();
  let written = 0;
  let lines = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const drain = (): void => {
    const b = Buffer.concat(batch);
    batch = [];
    batchBytes = 0;
    let off = 0;
    while (off < b.length) off += writeSync(out.fd, b, off, b.length - off);
  };
  try {
    await scanLog(rfh, limit, (rec, offset, raw) => {
      if (rec.k === 'gone') return;
      const { h1, h2 } = hash.begin(0).feed(rec.p).end();
      if (newest.rawOffset(h1, h2) !== offset) return; // not the newest for its path
      fresh.put(h1, h2, written, false);
      batch.push(raw);
      batchBytes += raw.length;
      written += raw.length;
      lines++;
      if (batchBytes >= READ_CHUNK) drain();
    });
    drain();
    await out.sync();
  } catch (err) {
    await out.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await out.close();
  await rename(tmp, file);
  return { written, lines, fresh };
}
