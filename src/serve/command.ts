// `bulkget serve`: the three flag servers side by side until Ctrl-C, for demos and for trying
// bulkget's retries, resume and conditional requests against something local.

import { startFlagServer, type FlagServer, type ServeMode } from './server.js';

interface ServeCommandOptions {
  host: string;
  localPort: number;
  delayPort: number;
  errorPort: number;
  /** Seconds. */
  delay: number;
  errorRate: number;
  seed: number;
  verbose: boolean;
  /** Default: all three. */
  modes?: ServeMode[];
  /** Stops the servers like SIGINT does (for embedding and tests). */
  signal?: AbortSignal;
}

const ORDER: readonly ServeMode[] = ['local', 'delay', 'error'];
const LABEL: Record<ServeMode, string> = { local: 'LOCAL', delay: 'DELAY', error: 'ERROR' };

function portOf(o: ServeCommandOptions, mode: ServeMode): number {
  return mode === 'local' ? o.localPort : mode === 'delay' ? o.delayPort : o.errorPort;
}

function describe(o: ServeCommandOptions, mode: ServeMode): string {
  if (mode === 'delay') return `, ${o.delay}s delay`;
  if (mode === 'error') return `, ${Math.round(o.errorRate * 1000) / 10}% errors, seed ${o.seed}`;
  return '';
}

// A closed pipe on stdout/stderr must not turn a server into a crash.
function writeLine(stream: NodeJS.WritableStream, line: string): void {
  try {
    stream.write(line + '\n');
  } catch {
    /* nothing useful to do with a broken log stream */
  }
}

export async function runServe(
  o: ServeCommandOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const fail = (message: string): number => {
    writeLine(err, `bulkget serve: ${message}`);
    return 2;
  };

  // Given in any order, started in the listed order, each mode once.
  const modes = ORDER.filter((m) => (o.modes ?? ORDER).includes(m));
  if (modes.length === 0) return fail('no server mode selected');

  // Two modes on one fixed port would only surface as a confusing "already in use".
  for (let i = 0; i < modes.length; i++) {
    for (let j = i + 1; j < modes.length; j++) {
      const a = modes[i]!;
      const b = modes[j]!;
      const p = portOf(o, a);
      if (p !== 0 && p === portOf(o, b)) return fail(`${LABEL[a]} and ${LABEL[b]} cannot share port ${p}; give each its own port`);
    }
  }

  const servers: FlagServer[] = [];
  const closeAll = (): Promise<void> => Promise.all(servers.map((s) => s.close())).then(() => undefined);

  for (const mode of modes) {
    const label = LABEL[mode];
    try {
      servers.push(
        await startFlagServer({
          mode,
          host: o.host,
          port: portOf(o, mode),
          delayMs: Math.round(o.delay * 1000),
          errorRate: o.errorRate,
          seed: o.seed,
          log: o.verbose ? (line) => writeLine(err, `${label.padEnd(5)}  ${line}`) : undefined,
        }),
      );
    } catch (e) {
      await closeAll();
      return fail(e instanceof Error ? e.message : String(e));
    }
  }

  // Installed before the banner, so a Ctrl-C right after "Press Ctrl-C" is always ours.
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      // Second signal while closing: let the default action end the process at once.
      removeHandlers();
      process.kill(process.pid, sig);
      return;
    }
    signalled = true;
    stop();
  };
  const onAbort = (): void => stop();
  const removeHandlers = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o.signal?.removeEventListener('abort', onAbort);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (o.signal?.aborted) stop();
  else o.signal?.addEventListener('abort', onAbort, { once: true });

  for (let i = 0; i < modes.length; i++) {
    const mode = modes[i]!;
    writeLine(out, `${LABEL[mode].padEnd(5)}  ${servers[i]!.baseUrl}  (flags/{cc}/{cc}.gif${describe(o, mode)})`);
  }
  writeLine(out, 'Press Ctrl-C to stop.');

  await stopped;
  try {
    await closeAll();
  } finally {
    removeHandlers();
  }
  // Stopping a server is its normal end, so Ctrl-C is success here, unlike during a download.
  return 0;
}
