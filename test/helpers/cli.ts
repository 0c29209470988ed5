// Runs the bulkget CLI as a child process (from source, through tsx), the way a user would.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The executable keeps a code cache in the user's cache folder when the build's does not fit
// (bin/bundle-loader.js): the suites' runs keep theirs in a folder of this test file's own.
const CACHE_HOME = mkdtempSync(path.join(tmpdir(), 'bulkget-cache-home-'));
process.env.XDG_CACHE_HOME = CACHE_HOME;
process.on('exit', () => rmSync(CACHE_HOME, { recursive: true, force: true }));
const MAIN = path.join(ROOT, 'src/cli/main.ts');
// Resolved here, so the CLI can run with any working directory (tsx is not found from /tmp).
export const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// BULKGET_TEST_CLI=built runs these suites against the executable users get (bin/bulkget.js and
// the bundle it loads, as last built) instead of src/ through tsx: `npm test` sets it after its
// build; `npm run test:src`, or a suite run by hand, takes src/.
const BUILT = process.env.BULKGET_TEST_CLI === 'built';
const BIN = path.join(ROOT, 'bin/bulkget.js');

export function spawnCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, BUILT ? [BIN, ...args] : ['--import', TSX, MAIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    // No defaults from the developer's own config file or environment (tests that want some say so).
    env: { ...process.env, NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent/bulkget-tests', BULKGET_OPTIONS: '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs to the end; `stdin` is written then closed (undefined: closed at once). */
export async function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CliResult> {
  const child = spawnCli(args, opts);
  const done = collect(child);
  child.stdin!.end(opts.stdin ?? '');
  return done;
}

/** The JSON report of SPEC.md, as the tests read it. */
export interface JsonReport {
  version: string;
  startedAt: string;
  elapsedMs: number;
  limits: { total: number; perHost: number };
  counts: { downloaded: number; unchanged: number; skipped: number; notFound: number; failed: number; invalid: number };
  bytes: number;
  retries: number;
  failures: { url: string; status?: number | null; error: string; attempts: number; kind: string; source?: string; line?: number }[];
}

/**
 * Runs the CLI with `--report -` (JSON on stdout) and no progress; fails the test when there is
 * no report or stderr shows a stack trace or an internal error.
 */
export async function runWithReport(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CliResult & { report: JsonReport }> {
  const r = await runCli([...args, '--progress', 'none', '--report', '-'], opts);
  let report: JsonReport;
  try {
    report = JSON.parse(r.stdout) as JsonReport;
  } catch {
    assert.fail(`no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  assert.doesNotMatch(r.stderr, /\n\s+at |Unhandled|internal error/, 'no stack trace or internal error');
  return { ...r, report };
}
