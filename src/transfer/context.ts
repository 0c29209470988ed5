// What one transfer needs from the run: the options that shape it and the run's shared parts,
// each known here only by what the transfer uses of it.

import type { Names, Slots, Stats, Reporter } from '../types.js';
import type { SafeDirs } from '../store/dest.js';
import type { StateStore } from '../store/state.js';
import type { SmallFileWriter } from '../store/writer.js';
import type { BodyBudget } from '../store/sink.js';
import type { CredentialPolicy } from '../http/credentials.js';
import type { Watchdog } from '../http/watchdog.js';
import type { Bandwidth } from '../http/bandwidth.js';
import type { IfExists } from './plan.js';

export interface TransferOptions {
  retries: number;
  maxRetryWaitMs: number;
  /** Base of the exponential backoff (ms). */
  backoffBaseMs: number;
  maxRedirects: number;
  /** Headers of every request (-H, the user agent). */
  headers: Record<string, string>;
  ifExists: IfExists;
  maxFilesize: number; // 0 = none
  contentDisposition: boolean;
  /** --location-trusted and --netrc. */
  credentials: CredentialPolicy;
  /** --max-time: the longest one item may take, attempts and backoff waits included; 0 = none. */
  maxTimeMs: number;
  /** Give a downloaded file the server's Last-Modified as its time. */
  remoteTime: boolean;
}

export interface TransferContext {
  slots: Slots;
  dirs: SafeDirs;
  state: StateStore | undefined;
  names: Names;
  stats: Stats;
  report: Pick<Reporter, 'retry'>;
  opts: TransferOptions;
  /** Aborted when the run stops: in-flight requests end, partial files stay for resume. */
  signal: AbortSignal;
  /** Where small finished files are written (a helper thread). */
  writer: SmallFileWriter;
  /** The write-batch budget shared by the bodies streaming at once. */
  budget: BodyBudget;
  /** Request target for a URL: origin-form, or absolute form through an http proxy. */
  requestPath: (url: URL) => string;
  /** Proxy-Authorization for a request through an http:// proxy that has credentials. */
  proxyAuth?: (url: URL) => string | undefined;
  /** Stops the whole run, as an interrupt does (the disk is full). */
  stop: (reason: string) => void;
  /** Aborts requests that make no progress for --timeout (1xx answers do not count). */
  watchdog?: Watchdog;
  /** --max-speed / --max-host-speed, when either is set. */
  bandwidth?: Bandwidth;
  /** Endpoints whose heads need lenient parsing (see http/lenient.ts). */
  lenient: Set<string>;
}
