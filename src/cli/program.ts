// The command line: commander's options and commands in, one of the three runs (get, flags,
// serve), an exit status back. A thin app on the library: nothing here touches a socket.

import { Command, CommanderError, Option } from 'commander';
import { BulkgetError, UsageError } from '../errors.js';
import { escapeControls } from '../text.js';
import { resolveOptions } from '../engine/options.js';
import { configOf, refuseClashes, type Opts } from './config.js';
import { execute } from './execute.js';
import { runFlags, runReportMerge, runServeCommand } from './commands.js';
import type { CliIO } from './io.js';
import { defaultsAt, describeDefaults, loadDefaults, lookupFor, type Defaults } from './defaults.js';

const EXIT_OK = 0;
const EXIT_USAGE = 2;


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

  # use every core of this machine (limits are split, not multiplied)
  bulkget -i urls.txt --jobs auto

Defaults: options may also come from ~/.config/bulkget/config (one per line: "limit 16",
"--per-host 4", "header = Authorization: Bearer T") and from BULKGET_OPTIONS ("-l 16 -p 4");
the command line wins. --no-config skips the file; \`bulkget --help -v\` shows what they set.

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
    .option('--connect-timeout <time>', 'connect timeout (0 = none)', '10s')
    .option('--timeout <time>', 'fail an attempt after this long without a byte (1xx answers do not count; 0 = none)', '30s')
    .option('--max-time <time>', 'the longest one item may take, all attempts and waits included (default: none)')
    .option('--max-redirects <n>', 'redirects followed per item', '10')
    .option('--if-exists <policy>', 'skip | update (conditional request) | overwrite', 'skip')
    .option('--layout <layout>', 'flat (all in DEST) | tree (DEST/host/path)', 'flat')
    .option('--content-disposition', "name files by the server's Content-Disposition")
    .option('--max-filesize <size>', 'fail files larger than SIZE (K, M, G = 1024-based)')
    .option('--no-remote-time', "give files the time of download, not the server's Last-Modified")
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', collect)
    .option('-A, --user-agent <ua>', 'User-Agent header (default bulkget/VERSION)')
    .option('--location-trusted', 'send -H Authorization/Cookie and URL credentials to other hosts a redirect names')
    .option('--netrc', 'take credentials for each host from ~/.netrc')
    .option('--netrc-file <file>', 'take credentials for each host from FILE (netrc format)')
    .option('-k, --insecure', 'do not verify TLS certificates')
    .option('--proxy <url>', 'proxy for every request (overrides HTTP_PROXY, HTTPS_PROXY, NO_PROXY)')
    .option('--rate <n>', 'at most N requests per second per endpoint (0 = no limit)', '0')
    .option('--max-speed <rate>', 'cap the whole run at RATE bytes/s (e.g. 10M; K, M, G = 1024-based; 0 = none)', '0')
    .option('--max-host-speed <rate>', 'cap each scheme://host:port at RATE bytes/s (0 = none)', '0')
    .option('--shard <K/N>', 'keep only the items whose URL hashes to shard K of N')
    .option('-j, --jobs <n>', 'run as N shards at once on this machine, one per core (auto = every core)', '1')
    .addOption(new Option('--progress <mode>', 'auto | bar | lines | json (one JSON object per interval, for programs) | none').default('auto'))
    .option('--progress-interval <time>', 'time between status lines (lines and json modes)', '10s')
    .option('-v, --verbose', 'one line per finished file on stderr')
    .option('-q, --quiet', 'no progress and no text report, only errors')
    .option('--report <file>', 'write a JSON report to FILE (- = stdout, replacing the text report)')
    .option('--save-failed <file>', 'write failed, not-found and invalid items as JSON lines to FILE')
    .option('--dry-run', 'print "URL -> path" for every item and make no request')
    .option('--no-config', 'ignore the config file (~/.config/bulkget/config)');
}

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
      // commander puts its "(Did you mean ...?)" on a line of its own; any other control character
      // (one in a value the user gave) is escaped.
      outputError: (s, write) => write(`bulkget: ${escapeControls(s.replace(/^error: /, '').trim().replace(/\n(?=\(Did you mean )/, ' '))} (see bulkget --help)\n`),
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

  const report = program.command('report').description('work with JSON reports: `bulkget report merge A.json B.json ...`');
  const merge = report
    .command('merge')
    .description("merge the JSON reports of a list's shards (pods, hosts) into one: prints the text report")
    .argument('<report...>', 'JSON reports written by --report')
    .option('--report <file>', 'also write the merged JSON report to FILE (- = stdout, replacing the text report)')
    .option('-q, --quiet', 'no text report')
    .addHelpText('after', `
Counts, bytes and retries are summed, the connection budgets too (the shards ran at once), the time
runs from the first start to the last end, and every failure is listed. Exit status: 0 when every
item of every shard was downloaded, unchanged or skipped; 1 otherwise (or when a shard was
interrupted); 2 when a file is not a report.
Example:
  bulkget report merge reports/shard-*.json --report all.json`)
    .action((files: string[], opts: Opts) => {
      action = () => runReportMerge(files, opts, io);
    });

  const completion = program
    .command('completion')
    .description('print a completion script for bash, zsh or fish')
    .argument('<shell>', 'bash | zsh | fish')
    .addHelpText('after', `
Examples:
  source <(bulkget completion bash)     # in ~/.bashrc
  source <(bulkget completion zsh)      # in ~/.zshrc (after compinit)
  bulkget completion fish > ~/.config/fish/completions/bulkget.fish`)
    .action((shell: string) => {
      action = async () => {
        const { completionScript } = await import('./completion.js');
        const script = completionScript(shell, program);
        if (script === undefined) throw new UsageError(`completion: unknown shell "${shell}"; choose bash, zsh or fish`);
        io.stdout.write(script);
        return EXIT_OK;
      };
    });

  for (const cmd of [get, flags, program.commands.find((c) => c.name() === 'serve')!, report, merge, completion]) {
    cmd.exitOverride().configureOutput(program.configureOutput());
  }
  // `bulkget --help` is the help of the default command (its download options first, so that a
  // new user sees --limit), then the other commands.
  program.helpInformation = () => topHelp(program, get);

  // Defaults from the config file and BULKGET_OPTIONS go before the command line's own options.
  const at = defaultsAt(io.argv, ['get', 'flags'], ['serve', 'report', 'completion', 'help']);
  const noConfig = io.argv.includes('--no-config');
  const verbose = io.argv.includes('-v') || io.argv.includes('--verbose');
  const lookup = lookupFor(io.argv[0] === 'flags' ? flags : get);
  let defaults: Defaults = { args: [], sources: [] };
  let argv = io.argv;
  try {
    if (at >= 0) {
      defaults = loadDefaults(io.env, noConfig, lookup);
      argv = [...io.argv.slice(0, at), ...defaults.args, ...io.argv.slice(at)];
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`bulkget: ${escapeControls(err.message)}\n`);
    return EXIT_USAGE;
  }
  const whereDefaults = (): string[] => {
    try {
      return describeDefaults(at >= 0 ? defaults : loadDefaults(io.env, noConfig, lookup), io.env, noConfig);
    } catch (err) {
      return [(err as Error).message];
    }
  };

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') {
        // `--help -v`: where the defaults came from.
        if (verbose) io.stdout.write(`\nDefaults:\n${whereDefaults().map((l) => `  ${l}\n`).join('')}`);
        return EXIT_OK;
      }
      if (err.code === 'commander.version') return EXIT_OK;
      return EXIT_USAGE;
    }
    throw err;
  }
  if (!action) return EXIT_OK;
  if (verbose && defaults.sources.length > 0) for (const l of whereDefaults()) io.stderr.write(`bulkget: ${l}\n`);
  try {
    exitCode = await action();
  } catch (err) {
    if (err instanceof BulkgetError) {
      io.stderr.write(`bulkget: ${escapeControls(err.message)}\n`);
      return err.exitCode;
    }
    throw err;
  }
  return exitCode;
}

function topHelp(program: Command, get: Command): string {
  const own = get
    .helpInformation()
    .replace(/^Usage: bulkget get /, 'Usage: bulkget ')
    .replace(get.description(), `${program.description()}\nWith no command, downloads: \`bulkget URL...\` is \`bulkget get URL...\`.`);
  const helper = program.createHelp();
  const width = Math.max(...program.commands.map((c) => helper.subcommandTerm(c).length));
  const commands = program.commands.map((c) => `  ${helper.subcommandTerm(c).padEnd(width)}  ${c.description()}`).join('\n');
  return `${own}\nCommands:\n${commands}\n\nRun \`bulkget <command> --help\` for the options of flags and serve.\n${GET_EXAMPLES}\n`;
}

/** `bulkget [URL...]`, `-i FILE`, or piped stdin. */
async function runGet(urls: string[], o: Opts, io: CliIO): Promise<number> {
  const config = configOf(o, io.env);
  resolveOptions(config.download); // every bad value is a usage error before any file is opened
  const { openInputFiles, allLines } = await import('../input/reader.js');
  const inputPaths = (o.input as string[] | undefined) ?? [];
  if (urls.length === 0 && inputPaths.length === 0) {
    if (io.stdin.isTTY) {
      throw new UsageError('no URLs given: pass URLs as arguments, use -i FILE, or pipe a list on stdin');
    }
    inputPaths.push('-');
  }
  const inputs = await openInputFiles(inputPaths);
  try {
    refuseClashes(config.cli, inputPaths);
  } catch (err) {
    for (const i of inputs) if (i.stream !== process.stdin) i.stream.destroy();
    throw err;
  }
  return execute(config, io, { noun: 'files', items: allLines({ urls, inputs }), notFoundIsFailure: true });
}
