// bulkget as a library: `import { download } from 'bulkget'`. The same engine as the CLI, with
// none of its process-wide habits: it prints nothing, exits nothing, traps no signal, sets no V8
// flag and forces no GC, and two downloads in one process share nothing.

export { download, Download } from './engine/download.js';
export { plan, type Planned } from './engine/plan.js';
export type { DownloadOptions } from './engine/options.js';
export { BulkgetError, SetupError, UsageError } from './errors.js';
export type {
  DownloadEvents,
  DownloadItem,
  FailureEntry,
  InputLine,
  InvalidInput,
  Item,
  ItemResult,
  ItemSpec,
  Outcome,
  RetryInfo,
  Stats,
  Summary,
} from './types.js';
