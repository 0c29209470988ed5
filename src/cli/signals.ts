// Ctrl-C once: stop starting work, abort transfers, report. Twice: exit at once. The CLI's
// business only: the library never installs a signal handler.

export interface Trap {
  /** Aborted on the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM, undefined when no signal came. */
  status(): number | undefined;
  /** Runs right before the process ends at once on a second signal (write what must survive). */
  onHardExit: () => void;
  dispose(): void;
}

export function trapSignals(stderr: NodeJS.WritableStream): Trap {
  const ac = new AbortController();
  let status: number | undefined;
  const trap: Trap = {
    signal: ac.signal,
    status: () => status,
    onHardExit: () => undefined,
    dispose: () => {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
  function handler(sig: NodeJS.Signals): void {
    const code = sig === 'SIGINT' ? 130 : 143;
    if (status !== undefined) {
      stderr.write(`\nbulkget: ${sig} again, exiting now\n`);
      // Not process.exit: it waits for the thread pool, where a call can be stuck for good (a
      // write to a --save-failed FIFO whose reader stopped reading). What a later run needs is
      // written now (state log, lock), the exit listeners run, then the signal is raised again
      // with its default action: the process ends at once, with the status a shell expects.
      trap.onHardExit();
      process.emit('exit', status);
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
      return;
    }
    status = code;
    stderr.write(`\nbulkget: ${sig}: stopping (press Ctrl-C again to exit at once)\n`);
    ac.abort();
  }
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return trap;
}
