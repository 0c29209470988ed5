// The executable's entry. `--version` is answered before anything heavy is loaded (undici,
// commander and the engine cost tens of milliseconds to import); everything else goes to the CLI.

import module from 'node:module';
import { bulkgetVersion } from '../version.js';

// Node 22+ keeps the compiled code of the modules loaded after this on disk, for the next run (a
// one-URL dry run: 138 -> 128 ms on Node 24.21). A process-wide setting: the CLI's to make, never
// the library's. Node 20 has no such cache.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${bulkgetVersion()}\n`);
} else {
  // No top-level await: the executable's bundle is a CommonJS script (scripts/bundle.mjs).
  void run();
}

async function run(): Promise<void> {
  // Node exits with status 0 when nothing is left to wait on, even while `main` has not finished:
  // a promise of the engine that never settles would end the run silently, without a report,
  // and a script would read success (seen once, with a pool slot that was never handed on).
  const stalled = () => {
    process.stderr.write('bulkget: internal error: the run stopped with work still pending, before its report\n');
    process.exit(70);
  };
  process.once('beforeExit', stalled);
  try {
    const { main } = await import('./program.js');
    const code = await main({
      argv,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      version: bulkgetVersion(),
    });
    process.removeListener('beforeExit', stalled);
    process.exitCode = code;
    // Let stdout drain before exiting; idle keep-alive sockets and the like must not hold us.
    process.stdout.write('', () => process.exit(code));
  } catch (err) {
    // A bug, not a user error: one line, and the stack only when asked for.
    const e = err as Error;
    process.stderr.write(`bulkget: internal error: ${e?.message ?? String(err)}\n`);
    if (process.env.BULKGET_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    process.exit(70);
  }
}
