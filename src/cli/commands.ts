// The commands other than `get`: `flags` (flag images by country code), `serve` (the bundled
// flag server) and `report merge` (shards' JSON reports as one).

import { readFile } from 'node:fs/promises';
import { SetupError, UsageError } from '../errors.js';
import { resolveOptions } from '../engine/options.js';
import { parseChoice, parseCount, parseDuration, parseRate } from './values.js';
import { configOf, refuseClashes, type Opts } from './config.js';
import { execute, exitCodeOf } from './execute.js';
import type { CliIO } from './io.js';

const SERVERS: Record<string, string> = {
  LOCAL: 'http://localhost:8001/flags',
  DELAY: 'http://localhost:8002/flags',
  ERROR: 'http://localhost:8003/flags',
  REMOTE: 'http://flupy.org/data/flags',
};

/** `bulkget flags [CC...]`: flag images by country code, from the embedded server by default. */
export async function runFlags(codes: string[], o: Opts, io: CliIO): Promise<number> {
  const config = configOf(o, io.env);
  resolveOptions(config.download);
  refuseClashes(config.cli, []);
  const { selectCodes, flagUrl } = await import('../input/countries.js');
  const first = o.first !== undefined ? parseCount('--first', String(o.first), 1) : undefined;
  const list = selectCodes({ args: codes, all: Boolean(o.all), every: Boolean(o.every), first });
  const server = String(o.server);
  const label = server.toUpperCase();
  let base: string;
  let stopServer: (() => Promise<void>) | undefined;
  if (label === 'EMBEDDED') {
    if (!config.cli.dryRun) {
      const { startFlagServer } = await import('../serve/server.js');
      const srv = await startFlagServer({ mode: 'local', port: 0 });
      base = srv.baseUrl;
      stopServer = () => srv.close();
    } else {
      base = 'http://127.0.0.1:0/flags';
    }
  } else if (SERVERS[label]) {
    base = SERVERS[label]!;
  } else {
    try {
      const u = new URL(server);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      base = server;
    } catch {
      throw new UsageError(`--server must be EMBEDDED, LOCAL, DELAY, ERROR, REMOTE or an http(s) base URL, got "${server}"`);
    }
  }
  const items = list.map((cc) => ({ url: flagUrl(base, cc), out: `${cc.toLowerCase()}.gif`, label: cc }));
  try {
    return await execute(config, io, { noun: 'flags', items, notFoundIsFailure: false });
  } finally {
    await stopServer?.();
  }
}

export async function runServeCommand(o: Opts, io: CliIO): Promise<number> {
  const { runServe } = await import('../serve/command.js');
  const port = (name: string, v: unknown) => {
    const n = parseCount(name, String(v));
    if (n > 65535) throw new UsageError(`${name} must be a port number 0..65535, got "${String(v)}"`);
    return n;
  };
  const errorRate = parseRate('--error-rate', String(o.errorRate));
  if (errorRate > 1) throw new UsageError(`--error-rate must be between 0 and 1, got "${String(o.errorRate)}"`);
  let modes: ('local' | 'delay' | 'error')[] | undefined;
  if (o.only !== undefined) {
    modes = String(o.only)
      .split(',')
      .map((m) => parseChoice('--only', m.trim().toLowerCase(), ['local', 'delay', 'error'] as const));
  }
  return runServe(
    {
      host: String(o.host),
      localPort: port('--local-port', o.localPort),
      delayPort: port('--delay-port', o.delayPort),
      errorPort: port('--error-port', o.errorPort),
      delay: parseDuration('--delay', String(o.delay)) / 1000,
      errorRate,
      seed: parseCount('--seed', String(o.seed)),
      verbose: Boolean(o.verbose),
      modes,
    },
    io.stdout,
    io.stderr,
  );
}

/** `bulkget report merge A.json B.json ...`: the shards' reports as one (text, and JSON with --report). */
export async function runReportMerge(files: string[], o: Opts, io: CliIO): Promise<number> {
  const { checkReport, mergeReports } = await import('../ui/report-merge.js');
  const reports = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file === '-' ? '/dev/stdin' : file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read report ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UsageError(`${file} is not a bulkget JSON report: not JSON`);
    }
    const r = checkReport(parsed);
    if (typeof r === 'string') throw new UsageError(`${file} is not a bulkget JSON report: ${r}`);
    reports.push(r);
  }
  const summary = mergeReports(reports, files, io.version);
  const report = o.report as string | undefined;
  if (report !== undefined) {
    const { FailureLog } = await import('../ui/failures.js');
    const { writeJsonReport } = await import('../ui/json-report.js');
    const failures = new FailureLog();
    for (const f of summary.failures) failures.add(f);
    try {
      await writeJsonReport(summary, failures, report === '-' ? io.stdout : report);
    } catch (err) {
      throw new SetupError(`cannot write --report file ${report}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    } finally {
      await failures.close();
    }
  }
  if (!o.quiet && report !== '-') {
    const { textReport } = await import('../ui/text-report.js');
    const { newStats } = await import('../types.js');
    const c = summary.counts;
    // The reports hold the bytes received, not the sizes of the files: the size shown is those bytes.
    const stats = { ...newStats(), ...c, bytes: summary.bytes, bytesDone: summary.bytes, retries: summary.retries };
    io.stdout.write(`Merged ${files.length} ${files.length === 1 ? 'report' : 'reports'}.\n`);
    io.stdout.write(textReport({ noun: 'files', stats, elapsedMs: summary.elapsedMs, stopped: summary.stopped, hosts: summary.hosts }));
  }
  // A shard that was interrupted did not get through its share: the whole is not complete.
  return summary.interrupted ? 1 : exitCodeOf(summary, true);
}
