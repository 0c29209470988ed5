// commander: options in, a RunConfig out, an exit status back. Nothing here touches a socket.

import { Command, CommanderError, Option } from 'commander';
import { fstatSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseNetrc, type Netrc } from './http/credentials.js';
import type { Readable } from 'node:stream';
import { UsageError, parseChoice, parseCount, parseDuration, parseHeader, parseRate, parseSize } from './cli/values.js';
import type { RawLine } from './types.js';
import { escapeControls } from './text.js';

export const EXIT_OK = 0;
export const EXIT_FAILURES = 1;
export const EXIT_USAGE = 2;

export interface CliIO {
  argv: string[];
  stdin: Readable & { isTTY?: boolean };
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  version: string;
}

const EXIT_HELP = `
Exit status:
  0    every item was downloaded, unchanged or skipped
  1    some item failed, was not found or was an invalid input line
       (in \`flags\`, codes not found do not count)
  2    usage error, unreadable input file, DEST not writable or in use
  130  interrupted by Ctrl-C (SIGINT); 143 after SIGTERM`;

const GET_EXAMPLES = `
Examples:
  bulkget https://example.com/a.iso https://example.com/b.iso
  cat urls.txt | bulkget -d mirror -l 16 -p 4
  bulkget -i urls.txt -i more.txt --if-exists update
  bulkget -i list.jsonl --report report.json --save-failed failed.jsonl
  bulkget -i failed.jsonl                      # retry exactly what failed last time

  # cron: silent on success, JSON for monitoring, exit status for alerting
  bulkget -q -i /srv/urls.txt -d /srv/mirror --if-exists update --report /var/log/bulkget.json

  # split one list over 4 machines (or a Kubernetes Indexed Job)
  bulkget -i urls.txt --shard "$JOB_COMPLETION_INDEX/4"

Input lines: URL | URL PATH | {"url": ..., "out": ..., "sha256": ..., "size": ...}
Blank lines and lines starting with # are skipped.
${EXIT_HELP}`;

const FLAGS_EXAMPLES = `
Examples:
  bulkget flags                    # the 20 most populous countries, embedded server
  bulkget flags -a                 # every bundled flag
  bulkget flags B cn us            # BA..BZ, CN and US
  bulkget flags -e -n 30 -s LOCAL  # AA..BD against \`bulkget serve\` (most are 404)
  bulkget flags -s DELAY -l 3      # three at a time against the delayed server
${EXIT_HELP}`;

/** Repeatable options gather their values in order. */
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Options every downloading command takes. */
function addDownloadOptions(cmd: Command): Command {
  return cmd
    .option('-d, --dest <dir>', 'destination folder', 'downloads')
    .option('-l, --limit <n>', 'at most N connections in total (0 = no limit)', '100')
    .option('-p, --per-host <n>', 'at most N connections per scheme://host:port (0 = no limit)', '0')
    .option('-r, --retries <n>', 'retries on resets, timeouts, 408/425/429/5xx', '3')
    .option('--retry-delay <time>', 'base of the exponential backoff (full jitter)', '0.5s')
    .option('--max-retry-wait <time>', 'longest Retry-After honoured', '60s')
    .option('--connect-timeout <time>', 'connect timeout', '10s')
    .option('--timeout <time>', 'fail an attempt after this long without a byte (1xx answers do not count)', '30s')
    .option('--max-time <time>', 'the longest one item may take, all attempts and waits included (default: none)')
    .option('--max-redirects <n>', 'redirects followed per item', '10')
    .option('--if-exists <policy>', 'skip | update (conditional request) | overwrite', 'skip')
    .option('--layout <layout>', 'flat (all in DEST) | tree (DEST/host/path)', 'flat')
    .option('--content-disposition', "name files by the server's Content-Disposition")
    .option('--max-filesize <size>', 'fail files larger than SIZE (K, M, G = 1024-based)')
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', collect)
    .option('-A, --user-agent <ua>', 'User-Agent header (default bulkget/VERSION)')
    .option('--location-trusted', 'send -H Authorization/Cookie and URL credentials to other hosts a redirect names')
    .option('--netrc', 'take credentials for each host from ~/.netrc')
    .option('--netrc-file <file>', 'take credentials for each host from FILE (netrc format)')
    .option('-k, --insecure', 'do not verify TLS certificates')
    .option('--proxy <url>', 'proxy for every request (overrides HTTP_PROXY, HTTPS_PROXY, NO_PROXY)')
    .option('--rate <n>', 'at most N requests per second per endpoint (0 = no limit)', '0')
    .option('--shard <K/N>', 'keep only the items whose URL hashes to shard K of N')
    .addOption(new Option('--progress <mode>', 'auto | bar | lines | none').default('auto'))
    .option('--progress-interval <time>', 'time between status lines in lines mode', '10s')
    .option('-v, --verbose', 'one line per finished file on stderr')
    .option('-q, --quiet', 'no progress and no text report, only errors')
    .option('--report <file>', 'write a JSON report to FILE (- = stdout, replacing the text report)')
    .option('--save-failed <file>', 'write failed, not-found and invalid items as JSON lines to FILE')
    .option('--dry-run', 'print "URL -> path" for every item and make no request');
}

type Opts = Record<string, unknown>;

/** Runs the CLI; resolves to the process exit status. */
export async function main(io: CliIO): Promise<number> {
  const program = new Command('bulkget');
  let exitCode = EXIT_OK;
  let action: (() => Promise<number>) | undefined;

  program
    .description('Bulk file downloader: URL lists in, files out, through one fair bounded connection pool.')
    .version(io.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`bulkget: ${escapeControls(s.replace(/^error: /, '').trim())} (see bulkget --help)\n`),
    });

  const get = addDownloadOptions(
    program
      .command('get', { isDefault: true })
      .description('download URLs (the default command)')
      .argument('[URL...]', 'URLs to download')
      .option('-i, --input <file>', 'read URLs from FILE, - for stdin (repeatable)', collect),
  ).addHelpText('after', GET_EXAMPLES);
  get.action((urls: string[], opts: Opts) => {
    action = () => runGet(urls, opts, io);
  });

  const flags = addDownloadOptions(
    program
      .command('flags')
      .description('download flag images by country code')
      .argument('[CC...]', 'two letters = that code; one letter X = XA..XZ')
      .option('-a, --all', 'every code in the bundled country_codes.txt')
      .option('-e, --every', 'every code AA..ZZ (676, most of them 404)')
      .option('-n, --first <n>', 'only the first N codes after sorting')
      .option('-s, --server <label|url>', 'EMBEDDED | LOCAL | DELAY | ERROR | REMOTE | base URL', 'EMBEDDED'),
  ).addHelpText('after', FLAGS_EXAMPLES);
  flags.action((codes: string[], opts: Opts) => {
    action = () => runFlags(codes, opts, io);
  });

  program
    .command('serve')
    .description('run the bundled flag server: LOCAL, DELAY and ERROR modes on 127.0.0.1')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--local-port <port>', 'LOCAL port', '8001')
    .option('--delay-port <port>', 'DELAY port', '8002')
    .option('--error-port <port>', 'ERROR port', '8003')
    .option('--delay <time>', 'delay of every DELAY response', '0.5s')
    .option('--error-rate <rate>', 'share of ERROR requests that fail (0..1)', '0.25')
    .option('--seed <n>', 'seed of the ERROR mode faults (same seed, same faults)', '1')
    .option('--only <modes>', 'comma-separated subset of local,delay,error')
    .option('-v, --verbose', 'log one line per request')
    .addHelpText('after', `
Serves /flags/{cc}/{cc}.gif with Range, ETag, Last-Modified and 304 support.
Examples:
  bulkget serve -v
  bulkget serve --only error --error-rate 0.2 --seed 7`)
    .action((opts: Opts) => {
      action = () => runServeCommand(opts, io);
    });

  for (const cmd of [get, flags, program.commands.find((c) => c.name() === 'serve')!]) {
    cmd.exitOverride().configureOutput(program.configureOutput());
  }

  try {
    await program.parseAsync(io.argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    throw err;
  }
  if (!action) return EXIT_OK;
  try {
    exitCode = await action();
  } catch (err) {
    if (err instanceof UsageError || isSetupError(err)) {
      io.stderr.write(`bulkget: ${escapeControls((err as Error).message)}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  return exitCode;
}

function isSetupError(err: unknown): boolean {
  const name = (err as Error)?.constructor?.name;
  return name === 'SetupError' || name === 'InputError' || name === 'CodeError' || name === 'CodeConflictError' || name === 'DestError' || name === 'LockBusyError';
}

interface Common {
  config: Omit<import('./run.js').RunConfig, 'noun' | 'lines' | 'labelOf' | 'notFoundIsFailure' | 'signal'>;
}

function commonConfig(o: Opts, io: CliIO): Common['config'] {
  const str = (k: string) => String(o[k]);
  if (o.quiet && o.verbose) throw new UsageError('--quiet and --verbose cannot be used together');
  const headers: Record<string, string> = {};
  for (const h of (o.header as string[] | undefined) ?? []) {
    const [k, v] = parseHeader(h);
    headers[k] = v;
  }
  headers['user-agent'] = (o.userAgent as string | undefined) ?? `bulkget/${io.version}`;
  let shard: { k: number; n: number } | undefined;
  if (o.shard !== undefined) shard = parseShardOption(str('shard'));
  const proxy = o.proxy as string | undefined;
  if (proxy !== undefined) {
    try {
      const u = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
      if (u.protocol !== 'http:') throw new Error();
    } catch {
      throw new UsageError(`--proxy must be an http:// proxy URL, got "${proxy}"`);
    }
  }
  const dest = str('dest');
  if (!dest) throw new UsageError('--dest must not be empty');
  return {
    version: io.version,
    dest,
    layout: parseChoice('--layout', str('layout'), ['flat', 'tree'] as const),
    shard,
    limit: parseCount('--limit', str('limit')),
    perHost: parseCount('--per-host', str('perHost')),
    rate: parseRate('--rate', str('rate')),
    connectTimeoutMs: Math.max(1, parseDuration('--connect-timeout', str('connectTimeout'))),
    timeoutMs: Math.max(1, parseDuration('--timeout', str('timeout'))),
    insecure: Boolean(o.insecure),
    proxy,
    transfer: {
      retries: parseCount('--retries', str('retries')),
      maxRetryWaitMs: parseDuration('--max-retry-wait', str('maxRetryWait')),
      backoffBaseMs: parseDuration('--retry-delay', str('retryDelay')),
      maxRedirects: parseCount('--max-redirects', str('maxRedirects')),
      headers,
      ifExists: parseChoice('--if-exists', str('ifExists'), ['skip', 'update', 'overwrite'] as const),
      maxFilesize: o.maxFilesize !== undefined ? parseSize('--max-filesize', str('maxFilesize')) : 0,
      contentDisposition: Boolean(o.contentDisposition),
      credentials: { trusted: Boolean(o.locationTrusted), netrc: readNetrc(o, io) },
      maxTimeMs: o.maxTime !== undefined ? parseDuration('--max-time', str('maxTime')) : 0, // 0 = none, as in curl
    },
    dryRun: Boolean(o.dryRun),
    progress: parseChoice('--progress', str('progress'), ['auto', 'bar', 'lines', 'none'] as const),
    progressIntervalMs: Math.max(100, parseDuration('--progress-interval', str('progressInterval'))),
    verbose: Boolean(o.verbose),
    quiet: Boolean(o.quiet),
    noColor: io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '',
    reportFile: o.report as string | undefined,
    saveFailed: o.saveFailed as string | undefined,
    stdout: io.stdout,
    stderr: io.stderr,
  };
}

/** --netrc (~/.netrc, absent is fine, as with curl) or --netrc-file FILE (must be readable). */
function readNetrc(o: Opts, io: CliIO): Netrc | undefined {
  let file = o.netrcFile as string | undefined;
  const required = file !== undefined;
  if (file === undefined && o.netrc) {
    const home = io.env.HOME ?? homedir();
    file = join(home, '.netrc');
  }
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read netrc file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseNetrc(text);
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
function refuseClashes(config: Common['config'], inputPaths: string[]): void {
  const outputs: Array<[string, string]> = [];
  if (config.reportFile !== undefined && config.reportFile !== '-') outputs.push(['--report', config.reportFile]);
  if (config.saveFailed !== undefined) outputs.push(['--save-failed', config.saveFailed]);
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

function parseShardOption(value: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`--shard must be K/N with 0 <= K < N, got "${value}"`);
  }
  return { k: Number(m[1]), n: Number(m[2]) };
}

/** Ctrl-C once: stop starting work, abort transfers, report. Twice: exit at once. */
function trapSignals(io: CliIO): { signal: AbortSignal; status: () => number | undefined; dispose: () => void } {
  const ac = new AbortController();
  let status: number | undefined;
  const handler = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? 130 : 143;
    if (status !== undefined) {
      io.stderr.write(`\nbulkget: ${sig} again, exiting now\n`);
      // Not process.exit: it waits for the thread pool, where a call can be stuck for good (a
      // write to a --save-failed FIFO whose reader stopped reading). The exit listeners (state
      // log flush, lock release) run here, then the signal is raised again with its default
      // action: the process ends at once, with the status a shell expects (128 + its number).
      process.emit('exit', status);
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
      return;
    }
    status = code;
    io.stderr.write(`\nbulkget: ${sig}: stopping (press Ctrl-C again to exit at once)\n`);
    ac.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    status: () => status,
    dispose: () => {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}

async function runGet(urls: string[], o: Opts, io: CliIO): Promise<number> {
  const config = commonConfig(o, io);
  const { openInputFiles, allLines } = await import('./input/reader.js');
  const inputPaths = (o.input as string[] | undefined) ?? [];
  if (urls.length === 0 && inputPaths.length === 0) {
    if (io.stdin.isTTY) {
      throw new UsageError('no URLs given: pass URLs as arguments, use -i FILE, or pipe a list on stdin');
    }
    inputPaths.push('-');
  }
  const inputs = await openInputFiles(inputPaths);
  try {
    refuseClashes(config, inputPaths);
  } catch (err) {
    for (const i of inputs) if (i.stream !== process.stdin) i.stream.destroy();
    throw err;
  }
  const lines = allLines({ urls, inputs });
  return execute(config, io, { noun: 'files', lines, notFoundIsFailure: true });
}

async function runFlags(codes: string[], o: Opts, io: CliIO): Promise<number> {
  const config = commonConfig(o, io);
  refuseClashes(config, []);
  const { selectCodes, flagUrl } = await import('./input/countries.js');
  const first = o.first !== undefined ? parseCount('--first', String(o.first), 1) : undefined;
  const list = selectCodes({ args: codes, all: Boolean(o.all), every: Boolean(o.every), first });
  const server = String(o.server);
  let base: string;
  let stopServer: (() => Promise<void>) | undefined;
  const label = server.toUpperCase();
  const known: Record<string, string> = {
    LOCAL: 'http://localhost:8001/flags',
    DELAY: 'http://localhost:8002/flags',
    ERROR: 'http://localhost:8003/flags',
    REMOTE: 'http://flupy.org/data/flags',
  };
  if (label === 'EMBEDDED') {
    if (!config.dryRun) {
      const { startFlagServer } = await import('./serve/server.js');
      const srv = await startFlagServer({ mode: 'local', port: 0 });
      base = srv.baseUrl;
      stopServer = () => srv.close();
    } else {
      base = 'http://127.0.0.1:0/flags';
    }
  } else if (known[label]) {
    base = known[label]!;
  } else {
    try {
      const u = new URL(server);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      base = server;
    } catch {
      throw new UsageError(`--server must be EMBEDDED, LOCAL, DELAY, ERROR, REMOTE or an http(s) base URL, got "${server}"`);
    }
  }
  const lines: RawLine[] = list.map((cc, i) => ({
    text: `${flagUrl(base, cc)} ${cc.toLowerCase()}.gif`,
    source: 'flags',
    line: i + 1,
  }));
  try {
    return await execute(config, io, {
      noun: 'flags',
      lines,
      labelOf: (raw) => list[raw.line - 1],
      notFoundIsFailure: false,
    });
  } finally {
    await stopServer?.();
  }
}

async function execute(
  config: Common['config'],
  io: CliIO,
  extra: Pick<import('./run.js').RunConfig, 'noun' | 'lines' | 'labelOf' | 'notFoundIsFailure'>,
): Promise<number> {
  const { runDownloads } = await import('./run.js');
  const trap = trapSignals(io);
  try {
    const outcome = await runDownloads({ ...config, ...extra, signal: trap.signal });
    return trap.status() ?? outcome.exitCode;
  } finally {
    trap.dispose();
  }
}

async function runServeCommand(o: Opts, io: CliIO): Promise<number> {
  const { runServe } = await import('./serve/command.js');
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
