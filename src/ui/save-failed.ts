// --save-failed FILE: what failed, in the input format, so that `bulkget -i FILE` retries it.

import * as fs from 'node:fs';
import { finished } from 'node:stream/promises';
import type { InvalidInput, ItemResult } from '../types.js';
import { errorText, type EventSource } from './events.js';
import { oneLine, openForWriting, safeJson } from './outputs.js';

/**
 * `--save-failed FILE`: every failed and not-found item as a line of the input format, so
 * `bulkget -i FILE` retries exactly those, writing to the same paths. Invalid lines cannot be retried
 * as they are, so they become `#` comments: skipped by the reader, visible to whoever fixes them.
 */
export class SaveFailedWriter {
  private readonly stream: fs.WriteStream;
  private error: Error | undefined;
  private written = 0;
  private closed = false;
  /** FILE did not exist before: a run that never started leaves none behind. */
  private readonly created: boolean;

  /** Opens FILE at once, so an unwritable path is reported before any request is made. */
  constructor(private readonly file: string) {
    this.created = !fs.existsSync(file);
    // It keeps the URLs' passwords (so that a retry from it works): private to its owner.
    const fd = openForWriting(file, 0o600);
    this.stream = fs.createWriteStream(file, { fd });
    // Remember a late write failure (disk full) and report it from close() instead of crashing.
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
  }

  get count(): number {
    return this.written;
  }

  attach(events: EventSource): this {
    events.on('result', (r) => this.addResult(r));
    events.on('invalid', (inv) => this.addInvalid(inv));
    return this;
  }

  /** Records a failed or not-found item; other outcomes are ignored. */
  addResult(r: ItemResult): void {
    if (this.closed || (r.outcome !== 'failed' && r.outcome !== 'notFound')) return;
    const rec: Record<string, unknown> = { url: r.url, out: r.item.out };
    if (r.item.sha256 !== undefined) rec.sha256 = r.item.sha256;
    if (r.item.size !== undefined) rec.size = r.item.size;
    if (r.status !== undefined) rec.status = r.status;
    rec.error = errorText(r.error, r.status);
    this.write(safeJson(rec) + '\n');
  }

  addInvalid(inv: InvalidInput): void {
    if (this.closed) return;
    this.write(`# invalid ${inv.source}:${inv.line}: ${oneLine(inv.text)} (${oneLine(inv.reason)})\n`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
    try {
      await finished(this.stream);
    } catch (err) {
      this.error ??= err as Error;
    }
    if (this.error) throw this.error;
  }

  /** The run did not start: close, and remove FILE if this run created it. */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    if (this.created) fs.rmSync(this.file, { force: true });
  }

  private write(line: string): void {
    this.written++;
    this.stream.write(line);
  }
}
