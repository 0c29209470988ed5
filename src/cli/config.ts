// Command-line options in, the library's DownloadOptions and the CLI's own display and output
// settings out. Pure but for reading nothing: every bad value is a UsageError naming the option.

import { fstatSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import type { DownloadOptions } from '../index.js';
import { UsageError } from '../errors.js';
import { jobSetupUrl } from './memory.js';
import { parseChoice, parseCount, parseDuration, parseHeader, parseRate, parseSize } from './values.js';
import type { ProgressMode } from '../ui/progress.js';

export type Opts = Record<string, unknown>;

/** What the CLI does around the download: displays and end-of-run outputs. */
interface CliSettings {
  dryRun: boolean;
  progress: ProgressMode;
  progressIntervalMs: number;
  verbose: boolean;
  quiet: boolean;
  noColor: boolean;
  reportFile?: string;
  saveFailed?: string;
}

export interface Config {
  download: DownloadOptions;
  cli: CliSettings;
}

export function configOf(o: Opts, env: NodeJS.ProcessEnv): Config {
  const str = (k: string) => String(o[k]);
  if (o.quiet && o.verbose) throw new UsageError('--quiet and --verbose cannot be used together');
  const headers: Record<string, string> = {};
  for (const h of (o.header as string[] | undefined) ?? []) {
    const [k, v] = parseHeader(h);
    headers[k] = v;
  }
  const download: DownloadOptions = {
    dest: str('dest'),
    layout: parseChoice('--layout', str('layout'), ['flat', 'tree'] as const),
    limit: parseCount('--limit', str('limit')),
    perHost: parseCount('--per-host', str('perHost')),
    rate: parseRate('--rate', str('rate')),
    maxSpeed: parseSize('--max-speed', str('maxSpeed')),
    maxHostSpeed: parseSize('--max-host-speed', str('maxHostSpeed')),
    retries: parseCount('--retries', str('retries')),
    retryDelay: parseDuration('--retry-delay', str('retryDelay')),
    maxRetryWait: parseDuration('--max-retry-wait', str('maxRetryWait')),
    connectTimeout: parseDuration('--connect-timeout', str('connectTimeout')),
    timeout: parseDuration('--timeout', str('timeout')),
    // 0 = none, as in curl.
    maxTime: o.maxTime !== undefined ? parseDuration('--max-time', str('maxTime')) : 0,
    maxRedirects: parseCount('--max-redirects', str('maxRedirects')),
    ifExists: parseChoice('--if-exists', str('ifExists'), ['skip', 'update', 'overwrite'] as const),
    contentDisposition: Boolean(o.contentDisposition),
    remoteTime: o.remoteTime !== false,
    maxFilesize: o.maxFilesize !== undefined ? parseSize('--max-filesize', str('maxFilesize')) : 0,
    headers,
    userAgent: o.userAgent as string | undefined,
    insecure: Boolean(o.insecure),
    // NODE_EXTRA_CA_CERTS, handed over by the shebang so that Node 20 does not read it at start
    // (bin/bulkget.js, src/http/trust.ts).
    extraCaCerts: env.BULKGET_DEFERRED_CA_CERTS || undefined,
    proxy: o.proxy as string | undefined,
    locationTrusted: Boolean(o.locationTrusted),
    netrc: (o.netrcFile as string | undefined) ?? (o.netrc ? true : undefined),
    shard: o.shard as string | undefined,
    jobs: jobsOf(str('jobs')),
    jobSetup: jobSetupUrl(),
    // The CLI draws its own progress from the counters; no events on a timer.
    progressInterval: 0,
    env,
  };
  const cli: CliSettings = {
    dryRun: Boolean(o.dryRun),
    progress: parseChoice('--progress', str('progress'), ['auto', 'bar', 'lines', 'json', 'none'] as const),
    progressIntervalMs: Math.max(100, parseDuration('--progress-interval', str('progressInterval'))),
    verbose: Boolean(o.verbose),
    quiet: Boolean(o.quiet),
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '',
    reportFile: o.report as string | undefined,
    saveFailed: o.saveFailed as string | undefined,
  };
  return { download, cli };
}

/** `--jobs N` or `auto`: as many jobs as this process may use cores. */
function jobsOf(v: string): number {
  if (v.trim().toLowerCase() === 'auto') return availableParallelism();
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < 1) throw new UsageError(`--jobs must be a whole number >= 1 or "auto", got "${v}"`);
  return Number(v);
}

/** A file's identity (device, inode), or undefined when it does not exist yet. */
function identity(path: string): string | undefined {
  try {
    const st = path === '-' ? fstatSync(0) : statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * An output file (--report, --save-failed) that is also an input, or the other output, would be
 * emptied before it is read, or written twice. Told by identity (device and inode), so another
 * spelling of the path, a link or `< FILE` on stdin is caught too.
 */
export function refuseClashes(cli: CliSettings, inputPaths: string[]): void {
  const outputs: Array<[string, string]> = [];
  if (cli.reportFile !== undefined && cli.reportFile !== '-') outputs.push(['--report', cli.reportFile]);
  if (cli.saveFailed !== undefined) outputs.push(['--save-failed', cli.saveFailed]);
  const seen = new Map<string, string>();
  for (const p of inputPaths) {
    const id = identity(p);
    if (id !== undefined && !seen.has(id)) seen.set(id, p === '-' ? 'stdin' : `input ${p}`);
  }
  for (const [flag, file] of outputs) {
    const id = identity(file) ?? `path:${resolve(file)}`;
    const other = seen.get(id);
    if (other !== undefined) throw new UsageError(`${flag} ${file} is also the ${other}: it would be overwritten; write it to another file`);
    seen.set(id, `${flag} file`);
  }
}
