// The text report on stdout at the end of a run (SPEC "Progress, report, exit status").

import type { HostEntry, Stats } from '../types.js';
import { escapeControls } from '../text.js';
import { elapsed, humanBytes, humanRate } from './format.js';

export interface ReportContext {
  noun: 'files' | 'flags';
  stats: Stats;
  elapsedMs: number;
  /** Why the run stopped before its end on its own (the disk is full), if it did. */
  stopped?: string;
  /** Each endpoint's share (the summary's), for the block on failing and slow hosts. */
  hosts?: HostEntry[];
}

/** Hosts shown in each part of the hosts block. */
const SHOWN = 3;

/**
 * When more than one host was involved and something failed: the hosts with the most failures,
 * and the slowest (bytes per second of time in their requests), so that a failed cron run says at
 * a glance which server misbehaved.
 */
export function hostsBlock(hosts: HostEntry[]): string[] {
  if (hosts.length < 2 || !hosts.some((h) => h.failed > 0)) return [];
  const width = (hs: HostEntry[]) => Math.max(...hs.map((h) => escapeControls(h.host).length));
  const lines: string[] = [];
  const failing = hosts.filter((h) => h.failed > 0).sort((a, b) => b.failed - a.failed || a.host.localeCompare(b.host)).slice(0, SHOWN);
  const w = width(failing);
  lines.push('Hosts with the most failures:');
  for (const h of failing) {
    const of = h.items ?? h.downloaded + h.failed;
    lines.push(`  ${escapeControls(h.host).padEnd(w)}  ${h.failed} of ${of} failed${h.retries ? `, ${h.retries} ${h.retries === 1 ? 'retry' : 'retries'}` : ''}`);
  }
  const timed = hosts.filter((h) => (h.timeMs ?? 0) > 0 && h.bytes > 0);
  if (timed.length >= 2) {
    const rate = (h: HostEntry) => h.bytes / (h.timeMs! / 1000);
    const slow = timed.sort((a, b) => rate(a) - rate(b)).slice(0, SHOWN);
    const ws = width(slow);
    lines.push('Slowest hosts (per connection):');
    for (const h of slow) lines.push(`  ${escapeControls(h.host).padEnd(ws)}  ${humanRate(rate(h))}`);
  }
  return lines;
}

/**
 * The flags2-style report of SPEC.md. Zero counts are left out so a clean run reads as two lines.
 *
 * The files/s figure counts downloaded files, which is what the SPEC example works out to
 * (18 files in 1.27 s = 14.2 files/s); MB/s is every body byte received in this run.
 */
export function textReport(ctx: ReportContext): string {
  const s = ctx.stats;
  const singular = ctx.noun === 'files' ? 'file' : 'flag';
  const lines = ['-'.repeat(20)];
  const ended = s.downloaded + s.unchanged + s.skipped + s.notFound + s.failed;
  // Taken on but not ended (in flight, or waiting for a connection or a job): the run was stopped
  // (Ctrl-C, SIGTERM, a full disk) before they were done. Lines not yet read are not counted.
  const interrupted = Math.max(0, s.queued - ended);
  if (ended + s.invalid + interrupted === 0) {
    lines.push('Nothing to download.');
  } else {
    if (s.downloaded > 0) {
      const noun = s.downloaded === 1 ? singular : ctx.noun;
      lines.push(`${s.downloaded} ${noun} downloaded (${humanBytes(s.bytesDone)}).`);
    }
    if (s.skipped > 0) lines.push(`${s.skipped} skipped (already present).`);
    if (s.unchanged > 0) lines.push(`${s.unchanged} unchanged (not modified).`);
    if (s.notFound > 0) lines.push(`${s.notFound} not found.`);
    if (s.failed > 0) lines.push(`${s.failed} ${s.failed === 1 ? 'error' : 'errors'}.`);
    if (s.invalid > 0) lines.push(`${s.invalid} invalid input ${s.invalid === 1 ? 'line' : 'lines'}.`);
    if (interrupted > 0) lines.push(`${interrupted} interrupted (run again to finish).`);
  }
  if (ctx.hosts) lines.push(...hostsBlock(ctx.hosts));
  if (ctx.stopped) lines.push(`Stopped early: ${ctx.stopped}. Partial files are kept; run again to resume.`);
  // A run that ends within the clock's resolution must not print Infinity or NaN.
  const secs = ctx.elapsedMs > 0 ? ctx.elapsedMs / 1000 : 0;
  const perSec = secs > 0 ? s.downloaded / secs : 0;
  const bytesPerSec = secs > 0 ? s.bytes / secs : 0;
  lines.push(
    `Elapsed time: ${elapsed(ctx.elapsedMs)} (${perSec.toFixed(1)} ${ctx.noun}/s, ${humanRate(bytesPerSec)})`,
  );
  return lines.join('\n') + '\n';
}
