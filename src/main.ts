// Entry point. `--version` is answered before anything heavy is loaded (undici, commander and
// the pipeline cost tens of milliseconds to import); everything else goes to the CLI.

import { readFileSync } from 'node:fs';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${version()}\n`);
} else {
  const { main } = await import('./cli.js');
  try {
    const code = await main({
      argv,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      version: version(),
    });
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
