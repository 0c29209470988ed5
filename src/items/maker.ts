// Sources -> items: raw lines become Items with their final relative path decided here, in input
// order, so names never depend on which download finishes first.

import type { InvalidInput, Item, Names, ParsedLine, RawLine } from '../types.js';
import { escapeControls, maskText } from '../text.js';
import { checkOutPath, nameFromUrl, treePath } from '../naming/names.js';
import { parseLine, parseSpec } from './lines.js';
import { shardOf, type Shard } from './shard.js';

export type Layout = 'flat' | 'tree';

interface ItemOptions {
  layout: Layout;
  shard?: Shard;
  names: Names;
}

type ItemOrInvalid = { item: Item } | { invalid: InvalidInput } | null;

/** Turns one raw line into an item, an invalid record, or null (comment, duplicate, other shard). */
export class ItemMaker {
  private seq = 0;
  constructor(private readonly opts: ItemOptions) {}

  make(raw: RawLine): ItemOrInvalid {
    if (raw.overlong) return this.invalid(raw, 'line longer than 1 MiB');
    const parsed: ParsedLine = raw.spec ? parseSpec(raw.spec) : parseLine(raw.text);
    if (parsed.kind === 'skip') return null;
    if (parsed.kind === 'invalid') return this.invalid(raw, parsed.reason);
    const url = parsed.url;
    // The setter re-parses the whole URL even when there is no fragment (1.2 us a line, 6% of a
    // 200,000-line dry run): only where there is one.
    if (url.href.includes('#')) url.hash = ''; // `a#` has an empty hash but a fragment all the same

    let out: string;
    if (parsed.out !== undefined) {
      const checked = checkOutPath(parsed.out);
      if (!checked.ok) return this.invalid(raw, checked.reason);
      out = checked.path;
    } else {
      out = this.opts.layout === 'tree' ? treePath(url) : nameFromUrl(url);
    }
    const assigned = this.opts.names.assign(out, url.href);
    if (assigned === null) return null; // same URL, same path: downloaded once
    // Names are assigned over the whole list, and only then is the list split: every shard gives
    // every item the name an unsharded run would, so shards writing into one DEST at once leave
    // exactly the files of one unsharded run.
    const shard = this.opts.shard;
    if (shard && shardOf(url.href, shard.n) !== shard.k) return null;
    const item: Item = { seq: this.seq++, url, out: assigned, source: raw.source, line: raw.line };
    if (parsed.sha256 !== undefined) item.sha256 = parsed.sha256;
    if (parsed.size !== undefined) item.size = parsed.size;
    if (raw.spec?.label !== undefined) item.label = raw.spec.label;
    if (raw.given ?? parsed.out !== undefined) item.given = true;
    return { item };
  }

  /** An invalid line; with --shard, reported by one shard only (by its place), so merged counts add up. */
  private invalid(raw: RawLine, reason: string): ItemOrInvalid {
    const shard = this.opts.shard;
    if (shard && shardOf(`${raw.source}:${raw.line}`, shard.n) !== shard.k) return null;
    return { invalid: invalid(raw, reason) };
  }
}

function invalid(raw: RawLine, reason: string): InvalidInput {
  // The reader keeps no text of a line too long to hold: say so instead.
  let text = raw.overlong ? '(line not shown: longer than 1 MiB)' : raw.spec ? raw.spec.url : raw.text;
  if (text.length > 200) text = text.slice(0, 200) + '…';
  // An input line may hold anything (an ESC, a C1 control): never raw in a report or on a terminal.
  return { source: escapeControls(raw.source), line: raw.line, text: escapeControls(maskText(text)), reason: escapeControls(reason) };
}
