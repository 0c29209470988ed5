// One download run by the CLI: the library's download() with the terminal around it -- progress,
// verbose lines, the reports, --save-failed, signals, the exit status, and the memory policy of a
// process that is the CLI's own.

import { download, plan, type DownloadItem, type Summary } from '../index.js';
import { SetupError } from '../errors.js';
import { escapeControls, maskUrl } from '../text.js';
import { startProgress } from '../ui/progress.js';
import { attachVerbose } from '../ui/verbose.js';
import { FailureLog } from '../ui/failures.js';
import { ReportFile, writeJsonReport } from '../ui/json-report.js';
import { SaveFailedWriter } from '../ui/save-failed.js';
import { textReport } from '../ui/text-report.js';
import type { Config } from './config.js';
import { trapSignals, type Trap } from './signals.js';
import { downloadWatch, reclaimIfGrown, watchMemory } from './memory.js';

interface Job {
  noun: 'files' | 'flags';
  items: Iterable<DownloadItem> | AsyncIterable<DownloadItem>;
  /** In `flags`, codes not found do not make the exit status 1 (guessing codes is its nature). */
  notFoundIsFailure: boolean;
}

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

export async function execute(config: Config, io: Io, job: Job): Promise<number> {
  const { cli } = config;
  if (cli.dryRun) return dryRun(config, io, job);
  // The outputs are opened first: an unwritable path is a usage error before any request.
  let saveFailed: SaveFailedWriter | undefined;
  let reportFile: ReportFile | undefined;
  try {
    if (cli.saveFailed) saveFailed = new SaveFailedWriter(cli.saveFailed);
  } catch (err) {
    throw new SetupError(`cannot write --save-failed file ${cli.saveFailed}: ${codeOf(err)}`);
  }
  try {
    if (cli.reportFile && cli.reportFile !== '-') reportFile = ReportFile.open(cli.reportFile);
  } catch (err) {
    await saveFailed?.discard();
    throw new SetupError(`cannot write --report file ${cli.reportFile}: ${codeOf(err)}`);
  }

  const trap = trapSignals(io.stderr);
  try {
    return await run(config, io, job, trap, saveFailed, reportFile);
  } finally {
    // Only now: a stuck write of the outputs (a FIFO nobody reads) must still meet Ctrl-C.
    trap.dispose();
  }
}

async function run(config: Config, io: Io, job: Job, trap: Trap, saveFailed: SaveFailedWriter | undefined, reportFile: ReportFile | undefined): Promise<number> {
  const { cli } = config;
  const dl = download(job.items, { ...config.download, signal: trap.signal });
  const failures = new FailureLog().attach(dl);
  saveFailed?.attach(dl);
  const progress = await startProgress({
    // -q silences the displays for people; --progress json, asked for by name, is for a program.
    mode: cli.quiet && cli.progress !== 'json' ? 'none' : cli.progress,
    stream: io.stderr,
    stats: dl.stats,
    noun: job.noun,
    intervalMs: cli.progressIntervalMs,
    noColor: cli.noColor,
  });
  attachVerbose(dl, io.stderr, { quiet: cli.quiet, verbose: cli.verbose, log: (line) => progress.log(line) });
  trap.onHardExit = () => dl.releaseNow();
  // External memory may grow by 16 MiB, not 4, before a download forces a full collection (the
  // dry run and the --jobs threads keep 4): each forced one threw away optimised code that held
  // objects it found dead ("weak objects" in --trace-deopt; V8's own full collections did not do
  // that here), 170-220 functions compiled again over 100,000 x 4 KiB on 3 hosts, where external
  // memory kept passing 4 MiB (37-44 forced collections; one host: few). With 16: none of those
  // deoptimisations in that run, the same peak RSS there (115-118 MiB) and on 2,000 x 1 MiB
  // (Node 24.21: 118-129 against 124-133 MiB, 5 runs each); with no trigger at all a million
  // 16-byte files measured 26.9 bytes per item over 10,000 (SPEC: 32). See memory.ts.
  // With --jobs, also its heap (downloadWatch).
  const stopWatching = watchMemory(() => dl.stats.bytes, downloadWatch(config.download.jobs ?? 1));
  let summary: Summary;
  try {
    summary = await dl.done;
  } catch (err) {
    // The run could not start (DEST unwritable or in use): no report, no --save-failed file.
    reportFile?.discard();
    await saveFailed?.discard();
    throw err;
  } finally {
    progress.stop();
    stopWatching();
  }
  await saveFailed?.close().catch((err: unknown) => io.stderr.write(`bulkget: cannot write --save-failed file ${cli.saveFailed}: ${codeOf(err)}\n`));
  try {
    if (reportFile) await reportFile.write(summary, failures);
    else if (cli.reportFile === '-') await writeJsonReport(summary, failures, io.stdout);
  } catch (err) {
    // Opened before the run, so only the disk can fail here (full, gone): one line, exit 2.
    throw new SetupError(`cannot write --report file ${cli.reportFile}: ${codeOf(err)}`);
  } finally {
    await failures.close();
  }
  if (!cli.quiet && cli.reportFile !== '-') {
    io.stdout.write(textReport({ noun: job.noun, stats: dl.stats, elapsedMs: summary.elapsedMs, stopped: summary.stopped, hosts: summary.hosts }));
  }
  return trap.status() ?? exitCodeOf(summary, job.notFoundIsFailure);
}

/** 0 when every item was downloaded, unchanged or skipped; 1 otherwise (SPEC). */
export function exitCodeOf(summary: Summary, notFoundIsFailure: boolean): 0 | 1 {
  const c = summary.counts;
  if (summary.stopped !== undefined || c.failed > 0 || c.invalid > 0) return 1;
  return notFoundIsFailure && c.notFound > 0 ? 1 : 0;
}

/** --dry-run: `URL -> path` for every item, invalid lines on stderr, no request. */
async function dryRun(config: Config, io: Io, job: Job): Promise<number> {
  const dest = (config.download.dest ?? 'downloads').replace(/\/+$/, '') || '.';
  let buf = '';
  let invalid = 0;
  let n = 0;
  for await (const made of plan(job.items, config.download)) {
    // A million-line list: input text that outlived two scavenges is freed only by a full GC.
    if ((++n & 1023) === 0) reclaimIfGrown();
    if ('invalid' in made) {
      invalid++;
      io.stderr.write(`*** Invalid input ${made.invalid.source}:${made.invalid.line}: ${made.invalid.reason}\n`);
      continue;
    }
    buf += `${maskUrl(made.item.url.href)} -> ${escapeControls(`${dest}/${made.item.out}`)}\n`;
    if (buf.length > 65536) {
      if (!io.stdout.write(buf)) await new Promise((r) => io.stdout.once('drain', r));
      buf = '';
    }
  }
  if (buf) io.stdout.write(buf);
  return invalid > 0 ? 1 : 0;
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
}
