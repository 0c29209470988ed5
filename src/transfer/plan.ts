// Before the first request of an item: is there anything to do (--if-exists), with which
// conditions (If-None-Match, If-Modified-Since), and is there a partial file to continue?

import { stat } from 'node:fs/promises';
import type { Item } from '../types.js';
import type { StateStore } from '../store/state.js';
import { fileExists, partSize } from '../store/files.js';
import type { Placement } from '../store/dest.js';
import { withoutUserinfo } from '../http/credentials.js';
import type { Resume } from './verdict.js';

export type IfExists = 'skip' | 'update' | 'overwrite';

/** 'skip', or the conditional headers of the first request (empty: unconditional). */
export async function conditionsFor(item: Item, place: Placement, ifExists: IfExists, state: StateStore | undefined): Promise<'skip' | Record<string, string>> {
  const conditional: Record<string, string> = {};
  // In a folder that held nothing when the run began (the usual bulk download), the file cannot
  // exist yet: an lstat per file saved (~10 us each here).
  if (place.fresh || !fileExists(place.abs) || ifExists === 'overwrite') return conditional;
  if (ifExists === 'skip') return 'skip';
  const found = await state?.lookup(item.out);
  // The validators of what this URL last put there; another URL's would ask the wrong question.
  const rec = found && found.k === 'done' && found.u === recordedUrl(item) ? found : undefined;
  const st = await stat(place.abs);
  // Not the file the record describes (cut short or changed by hand since): a 304 would keep it,
  // so it is fetched whole, as wget -N does when the sizes differ.
  if (rec && rec.s !== undefined && st.size !== rec.s) return conditional;
  if (rec?.e) conditional['if-none-match'] = rec.e;
  if (rec?.m) conditional['if-modified-since'] = rec.m;
  if (!conditional['if-none-match'] && !conditional['if-modified-since']) {
    // No record (a file put there by hand or by another tool): its mtime is the best guess, as
    // wget -N does.
    conditional['if-modified-since'] = st.mtime.toUTCString();
  }
  return conditional;
}

/** The item's URL as DEST/.bulkget records it: never with a user or password. */
export function recordedUrl(item: Item): string {
  return withoutUserinfo(item.url);
}

/** What a leftover partial file allows: continue with Range + If-Range, or nothing. */
export async function resumeFrom(item: Item, part: string, state: StateStore | undefined): Promise<Resume | undefined> {
  const size = partSize(part);
  if (size <= 0) return undefined;
  const rec = await state?.lookup(item.out);
  if (!rec || rec.k !== 'part' || rec.u !== recordedUrl(item)) return undefined;
  // If-Range needs a strong validator: a weak ETag cannot guard a byte range.
  const validator = rec.e && !rec.e.startsWith('W/') ? rec.e : rec.m;
  if (!validator) return undefined;
  if (rec.s !== undefined && size >= rec.s) return undefined;
  return { offset: size, validator, size: rec.s };
}
