// The report's `hosts`: each endpoint's share of the run (items downloaded and failed, bytes,
// retries, time in requests), so that a failed run shows at a glance which server misbehaved.
// Bounded: a list spread over a million hosts keeps the busiest 10,000 to 20,000 of them exactly
// (the rest are pruned, least busy first, and counted afresh should they come back).

import type { HostEntry, Item, ItemResult } from '../types.js';

const KEEP = 10_000;

interface Tally {
  downloaded: number;
  failed: number;
  bytes: number;
  retries: number;
  items: number;
  timeMs: number;
}

export class HostTally {
  private readonly hosts = new Map<string, Tally>();

  private of(url: URL): Tally {
    const host = url.origin;
    let t = this.hosts.get(host);
    if (!t) {
      if (this.hosts.size >= 2 * KEEP) this.prune();
      t = { downloaded: 0, failed: 0, bytes: 0, retries: 0, items: 0, timeMs: 0 };
      this.hosts.set(host, t);
    }
    return t;
  }

  result(r: ItemResult): void {
    const t = this.of(r.item.url);
    t.items++;
    if (r.outcome === 'downloaded') t.downloaded++;
    // Not found counts here too: for "which server let me down", a 404 is the server's answer.
    else if (r.outcome === 'failed' || r.outcome === 'notFound') t.failed++;
    t.bytes += r.bytes;
    t.timeMs += r.timeMs;
  }

  retry(item: Item): void {
    this.of(item.url).retries++;
  }

  /** The busiest `n` (most items, then most bytes). */
  top(n = 100): HostEntry[] {
    return [...this.hosts]
      .sort(([, a], [, b]) => b.items - a.items || b.bytes - a.bytes)
      .slice(0, n)
      .map(([host, t]) => ({ host, downloaded: t.downloaded, failed: t.failed, bytes: t.bytes, retries: t.retries, items: t.items, timeMs: Math.round(t.timeMs) }));
  }

  private prune(): void {
    const keep = [...this.hosts].sort(([, a], [, b]) => b.items - a.items).slice(0, KEEP);
    this.hosts.clear();
    for (const [h, t] of keep) this.hosts.set(h, t);
  }
}
