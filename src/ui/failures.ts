// The failure list behind the JSON report: every failed, not-found and invalid item.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FailureEntry, InvalidInput, ItemResult } from '../types.js';
import { maskUrl } from '../text.js';
import { errorText, type EventSource } from './events.js';

/** The failure entry of a result, or undefined when the item did not fail. */
function failureOfResult(r: ItemResult): FailureEntry | undefined {
  if (r.outcome !== 'failed' && r.outcome !== 'notFound') return undefined;
  const e: FailureEntry = { url: maskUrl(r.url), error: errorText(r.error, r.status), attempts: r.attempts, kind: r.outcome };
  if (r.status !== undefined) e.status = r.status;
  return e;
}

function failureOfInvalid(inv: InvalidInput): FailureEntry {
  return { url: inv.text, error: inv.reason, attempts: 0, kind: 'invalid', source: inv.source, line: inv.line };
}

/**
 * Every failed, not-found and invalid item, in the order they were reported.
 * A ten-million-line list can fail wholesale (a dead host), so only the first `memoryLimit` entries
 * stay in memory; the rest go to a JSON-lines spill file in the temp directory, removed by close()
 * (and, as a last resort, when the process exits).
 */
export class FailureLog {
  private readonly memory: FailureEntry[] = [];
  private readonly memoryLimit: number;
  private readonly tmpRoot: string;
  private spillDir: string | undefined;
  private spillPath: string | undefined;
  private spillFd: number | undefined;
  // Spilled lines are batched: a write syscall per failure would slow a run that fails fast.
  private pending: string[] = [];
  private pendingChars = 0;
  private total = 0;
  private closed = false;
  private readonly onExit = (): void => this.removeSpillSync();

  constructor(opts: { memoryLimit?: number; tmpDir?: string } = {}) {
    this.memoryLimit = opts.memoryLimit ?? 10_000;
    this.tmpRoot = opts.tmpDir ?? os.tmpdir();
  }

  get count(): number {
    return this.total;
  }

  /** Whether entries went to the spill file (for tests and diagnostics). */
  get spilled(): boolean {
    return this.spillPath !== undefined;
  }

  attach(events: EventSource): this {
    events.on('result', (r) => {
      const e = failureOfResult(r);
      if (e) this.add(e);
    });
    events.on('invalid', (inv) => this.add(failureOfInvalid(inv)));
    return this;
  }

  add(e: FailureEntry): void {
    if (this.closed) return;
    this.total++;
    if (this.memory.length < this.memoryLimit) {
      this.memory.push(e);
      return;
    }
    const line = JSON.stringify(e) + '\n';
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= 64 * 1024) this.flush();
  }

  async *entries(): AsyncGenerator<FailureEntry> {
    // Copy the bound first: entries added while a report is being written are not part of it.
    const inMemory = this.memory.length;
    for (let i = 0; i < inMemory; i++) yield this.memory[i]!;
    if (this.spillPath === undefined && this.pending.length === 0) return;
    this.flush();
    if (this.spillPath === undefined) return;
    const input = fs.createReadStream(this.spillPath, { encoding: 'utf8' });
    // Reached when asked for: a run that spills no failures never loads node:readline.
    const rl = process.getBuiltinModule('node:readline').createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (line) yield JSON.parse(line) as FailureEntry;
      }
    } finally {
      rl.close();
      input.destroy();
    }
  }

  /** Drops the spill file; the log is empty afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = [];
    this.pendingChars = 0;
    this.removeSpillSync();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    if (this.spillFd === undefined) {
      this.spillDir = fs.mkdtempSync(path.join(this.tmpRoot, 'bulkget-failures-'));
      this.spillPath = path.join(this.spillDir, 'failures.jsonl');
      this.spillFd = fs.openSync(this.spillPath, 'w', 0o600);
      process.once('exit', this.onExit);
    }
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    fs.writeSync(this.spillFd, chunk);
  }

  private removeSpillSync(): void {
    if (this.spillFd !== undefined) {
      try {
        fs.closeSync(this.spillFd);
      } catch {
        // already closed: nothing to release
      }
      this.spillFd = undefined;
    }
    if (this.spillDir !== undefined) {
      fs.rmSync(this.spillDir, { recursive: true, force: true });
      this.spillDir = undefined;
      this.spillPath = undefined;
      process.removeListener('exit', this.onExit);
    }
  }
}
