// The end of a body: verified (length, size, SHA-256), moved under its final name, recorded.

import type { Item } from '../types.js';
import type { Placement } from '../store/dest.js';
import { commitNew, commitPart, setTime, writeSmallPart } from '../store/files.js';
import type { BodyFile } from '../store/sink.js';
import { sanitizeDispositionName } from '../naming/disposition.js';
import type { Verdict } from './verdict.js';
import { recordedUrl } from './plan.js';
import type { TransferContext } from './context.js';

type Check = { ok: true } | { ok: false; retry: boolean; reason: string };

/**
 * Whether a body that ended is the file: as long as announced (else it was cut short: worth a
 * retry), of the size and SHA-256 the input line promised (else final, and the partial goes).
 */
export function checkBody(file: BodyFile, item: Item): Check {
  const written = file.written;
  if (file.expectedTotal >= 0 && written !== file.expectedTotal) {
    return { ok: false, retry: true, reason: `body cut short: got ${written} of ${file.expectedTotal} bytes` };
  }
  if (item.size !== undefined && written !== item.size) {
    return { ok: false, retry: false, reason: `size mismatch: got ${written} bytes, expected ${item.size}` };
  }
  if (file.hash) {
    const got = file.hash.digest('hex');
    if (got !== item.sha256) return { ok: false, retry: false, reason: `sha256 mismatch: got ${got}, expected ${item.sha256}` };
  }
  return { ok: true };
}

/** Moves a checked body into place and records its validators; returns its path in DEST. */
export async function commit(item: Item, place: Placement, file: BodyFile, v: Extract<Verdict, { kind: 'body' }>, ctx: TransferContext): Promise<string> {
  let finalRel = item.out;
  const written = file.written;
  const gathered = file.takeGathered();
  const cdName = v.disposition ? sanitizeDispositionName(v.disposition) : null;
  // The server's Last-Modified becomes the file's time (wget's default, curl -R), set on the
  // partial file so the file appears under its name with it.
  const mtime = ctx.opts.remoteTime ? remoteTime(v.lastModified) : -1;
  // `.bulkget` is a safe name but holds our own records: the URL's name is used instead.
  if (cdName && cdName.toLowerCase() !== '.bulkget') {
    if (gathered) writeSmallPart(place.part, gathered);
    if (mtime >= 0) setTime(place.part, mtime);
    finalRel = await commitDisposition(item, ctx, place.part, cdName);
  } else if (gathered) {
    await ctx.writer.put(place.part, place.abs, gathered, written, mtime);
  } else {
    if (mtime >= 0) setTime(place.part, mtime);
    commitPart(place.part, place.abs);
  }
  ctx.stats.bytesDone += written;
  ctx.state?.recordDone(finalRel, recordedUrl(item), { etag: v.etag, lastModified: v.lastModified, size: written });
  return finalRel;
}

/** Seconds since the epoch of a Last-Modified date, or -1 (none, unreadable, before 1970). */
export function remoteTime(lastModified: string | undefined): number {
  if (!lastModified) return -1;
  const ms = Date.parse(lastModified);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : -1;
}

/**
 * Puts a finished partial file under the server's name (Content-Disposition). That name is known
 * only now, so its collision suffix comes in completion order; a name another item holds, or a
 * file that was there before (the user's own `important.txt`), is never replaced: the next free
 * suffix is taken instead, as wget does. Returns the path used, relative to DEST.
 */
async function commitDisposition(item: Item, ctx: TransferContext, part: string, cdName: string): Promise<string> {
  const dir = item.out.includes('/') ? item.out.slice(0, item.out.lastIndexOf('/') + 1) : '';
  const wanted = dir + cdName;
  // A key of this item's own: two items of one URL must not share a claim.
  const key = `${item.url.href}#cd${item.seq}`;
  for (let n = 0; ; n++) {
    // assign() hands out the name, or the next suffix, that no item holds; each call claims one.
    // One that is taken on disk (a file from before the run) is passed over: link() never
    // replaces a file.
    const rel = ctx.names.assign(wanted, `${key}#${n}`);
    if (rel === null) continue;
    const abs = await ctx.dirs.ensureParent(rel);
    if (commitNew(part, abs)) return rel;
  }
}
