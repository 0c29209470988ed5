// Starts a bar (on a stream that claims to be a terminal) and status lines, and never stops them:
// the process must still exit once its own work is done, because the progress timers are unref'ed.
import { Writable } from 'node:stream';
import { newStats } from '../../src/types.js';
import { startProgress } from '../../src/ui/progress.js';

const sink = (tty: boolean): NodeJS.WriteStream => {
  const w = new Writable({ write: (_chunk, _enc, cb) => cb() });
  Object.assign(w, { isTTY: tty, columns: 80 });
  return w as unknown as NodeJS.WriteStream;
};
const stats = newStats();
startProgress({ mode: 'bar', stream: sink(true), stats, noun: 'files', intervalMs: 50, noColor: false });
startProgress({ mode: 'lines', stream: sink(false), stats, noun: 'files', intervalMs: 50, noColor: false });
process.stdout.write('started bar and lines\n');
