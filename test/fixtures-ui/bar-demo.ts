// Drives the progress display on process.stderr for ~400 ms with a changing stats object, then stops.
// Run by test/ui-progress.test.ts under a real pseudo-terminal (`script`) and with stderr redirected.
// argv: [mode] [durationMs]
import { newStats } from '../../src/types.js';
import { startProgress, type ProgressMode } from '../../src/ui/progress.js';

const mode = (process.argv[2] ?? 'auto') as ProgressMode;
const duration = Number(process.argv[3] ?? 400);
const stats = newStats();
const progress = await startProgress({ mode, stream: process.stderr, stats, noun: 'files', intervalMs: 50, noColor: false });
const tick = setInterval(() => {
  stats.queued += 10;
  stats.downloaded += 7;
  stats.failed += 1;
  stats.bytes += 123_456;
  stats.openConnections = 4;
}, 20);
setTimeout(() => {
  stats.inputDone = true;
  progress.log('a line logged above the bar');
}, duration / 2);
setTimeout(() => {
  clearInterval(tick);
  progress.stop();
  process.stdout.write('REPORT\n');
}, duration);
