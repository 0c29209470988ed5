// Default options from the config file (`$XDG_CONFIG_HOME/bulkget/config`, else
// `~/.config/bulkget/config`: one option per line, as .curlrc and .wgetrc) and from the
// BULKGET_OPTIONS environment variable (shell words). They go before the command line's own, so
// the command line wins: the last value of an option is the one used, and a repeatable option
// (-H) gathers all. `--no-config` skips the file. Only the download commands (get, flags) take
// them. Each token is checked here against the command's options, so a typo names its source.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Command } from 'commander';
import { escapeControls, maskText } from '../text.js';

/** What the command knows of an option, by `--long` or `-s` name. */
type OptionLookup = (name: string) => { long: string; takesValue: boolean } | undefined;

export interface Defaults {
  /** The options to put before the command line's. */
  args: string[];
  /** Where each part came from, for `--help -v` and `-v`: [source, its options]. */
  sources: Array<[string, string[]]>;
}

function configPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'bulkget', 'config');
}

/** Splits a line into words: spaces separate, '...' and "..." quote, \ escapes (outside '...'). */
export function shellWords(text: string): string[] | string {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === '\\' && i + 1 < text.length && quote !== undefined) {
      const n = text[++i]!;
      word += n === '"' || n === '\\' ? n : c + n;
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) return `unclosed ${quote === '"' ? 'double' : 'single'} quote`;
  if (word !== undefined) words.push(word);
  return words;
}

/** Checks option words (`--limit 16 --insecure`) against the command; returns them as `--long` ones. */
function checkWords(words: string[], lookup: OptionLookup, where: () => string): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.startsWith('--') ? w.indexOf('=') : -1;
    const name = eq > 0 ? w.slice(0, eq) : w;
    const opt = w.startsWith('-') ? lookup(name) : undefined;
    if (!opt) {
      const what = w.startsWith('-') ? `unknown option ${name}` : `"${w}" is not an option (URLs and codes go on the command line)`;
      throw new UsageError(`${where()}: ${escapeControls(what)}`);
    }
    if (!opt.takesValue) {
      if (eq > 0) throw new UsageError(`${where()}: ${opt.long} takes no value`);
      out.push(opt.long);
    } else if (eq > 0) {
      out.push(opt.long, w.slice(eq + 1));
    } else {
      if (i + 1 >= words.length) throw new UsageError(`${where()}: ${opt.long} needs a value`);
      out.push(opt.long, words[++i]!);
    }
  }
  return out;
}

/**
 * The config file's options. A line is `--limit 16`, `limit 16`, `limit = 16` or `insecure`; the
 * value is the rest of the line (`header = Authorization: Bearer T`), or one quoted word.
 */
export function parseConfig(text: string, file: string, lookup: OptionLookup): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(-{0,2})([A-Za-z][\w-]*)(?:\s*[=:]\s*|\s+|$)(.*)$/.exec(line);
    const where = () => `${file}:${n + 1}`;
    if (!m) throw new UsageError(`${where()}: not an option: ${escapeControls(line.slice(0, 80))}`);
    const name = m[1] === '-' ? `-${m[2]}` : `--${m[2]}`;
    const value = m[3]!;
    let words = [value];
    if (/^["']/.test(value)) {
      const quoted = shellWords(value);
      if (typeof quoted === 'string') throw new UsageError(`${where()}: ${quoted}`);
      if (quoted.length !== 1) throw new UsageError(`${where()}: one value per line, got ${quoted.length}`);
      words = quoted;
    }
    out.push(...checkWords(value === '' ? [name] : [name, ...words], lookup, where));
  }
  return out;
}

/**
 * The defaults for this run. `noConfig`: the command line says --no-config. A missing config file
 * is no error; one that cannot be read, or that says something wrong, is (exit 2, naming it).
 */
export function loadDefaults(env: NodeJS.ProcessEnv, noConfig: boolean, lookup: OptionLookup): Defaults {
  const sources: Array<[string, string[]]> = [];
  if (!noConfig) {
    const file = configPath(env);
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UsageError(`cannot read config file ${file}: ${code ?? (err as Error).message}`);
    }
    if (text !== undefined) sources.push([file, parseConfig(text, file, lookup)]);
  }
  const fromEnv = env.BULKGET_OPTIONS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const words = shellWords(fromEnv);
    if (typeof words === 'string') throw new UsageError(`BULKGET_OPTIONS: ${words}`);
    sources.push(['BULKGET_OPTIONS', checkWords(words, lookup, () => 'BULKGET_OPTIONS')]);
  }
  return { args: sources.flatMap(([, a]) => a), sources };
}

/** Options as shown: credentials in headers and URLs masked. */
function shown(args: string[]): string {
  return args
    .map((a, i) => (args[i - 1] === '--header' && /^(authorization|cookie|proxy-authorization)\s*:/i.test(a) ? `${a.slice(0, a.indexOf(':'))}: ***` : maskText(a)))
    .map((a) => (/[\s'"]/.test(a) || a === '' ? `'${a.replace(/'/g, `'\\''`)}'` : a))
    .join(' ');
}

/** For `--help -v` and `-v`: where the defaults came from, one line each. */
export function describeDefaults(d: Defaults, env: NodeJS.ProcessEnv, noConfig: boolean): string[] {
  const lines = d.sources.map(([src, args]) => `defaults from ${src}: ${args.length ? escapeControls(shown(args)) : '(none)'}`);
  if (!d.sources.some(([src]) => src !== 'BULKGET_OPTIONS')) lines.unshift(noConfig ? 'config file: not read (--no-config)' : `config file: ${configPath(env)} (not there)`);
  if (!d.sources.some(([src]) => src === 'BULKGET_OPTIONS')) lines.push('BULKGET_OPTIONS: not set');
  return lines;
}

/** How a command's options are looked up by name (`--limit`, `-l`). */
export function lookupFor(cmd: Command): OptionLookup {
  const by = new Map<string, { long: string; takesValue: boolean }>();
  for (const o of cmd.options) {
    if (!o.long) continue;
    const info = { long: o.long, takesValue: o.required || o.optional };
    by.set(o.long, info);
    if (o.short) by.set(o.short, info);
  }
  return (name) => by.get(name);
}

/** Where the defaults go in argv: after `get`/`flags`, first for the default command, nowhere else. */
export function defaultsAt(argv: string[], downloadCommands: string[], otherCommands: string[]): number {
  const first = argv[0];
  if (first !== undefined && downloadCommands.includes(first)) return 1;
  if (first !== undefined && otherCommands.includes(first)) return -1;
  // `bulkget --help` and `bulkget --version` are the program's own, not the default command's.
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-V')) return -1;
  return 0;
}
