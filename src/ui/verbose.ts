// One line per finished item on stderr: failures always (quiet keeps errors), the rest with -v.

import { maskUrl } from '../text.js';
import { errorText, type EventSource } from './events.js';
import { oneLine } from './outputs.js';

/**
 * Per-item lines on stderr. Failures and invalid input are always shown (quiet keeps errors);
 * successes and not-found only with --verbose. `opts.log`, when given, is used instead of writing to
 * `err` directly, so lines can go through the progress bar's log() and not tear the bar.
 */
export function attachVerbose(
  events: EventSource,
  err: NodeJS.WritableStream,
  opts: { quiet: boolean; verbose: boolean; log?: (line: string) => void },
): void {
  const emit = opts.log ?? ((line: string) => void err.write(line + '\n'));
  const verbose = opts.verbose && !opts.quiet;
  events.on('invalid', (inv) => emit(`*** Invalid input ${inv.source}:${inv.line}: ${oneLine(inv.reason)}`));
  events.on('result', (r) => {
    if (r.outcome === 'failed') {
      emit(`*** Error for ${oneLine(maskUrl(r.url))}: ${oneLine(errorText(r.error, r.status))}`);
      return;
    }
    if (!verbose) return;
    const label = oneLine(r.item.label ?? maskUrl(r.url));
    switch (r.outcome) {
      case 'downloaded':
        emit(`${label} OK`);
        break;
      case 'unchanged':
        emit(`${label} unchanged`);
        break;
      case 'skipped':
        emit(`${label} skipped`);
        break;
      case 'notFound':
        emit(`${label} not found`);
        break;
    }
  });
}
