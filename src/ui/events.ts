// What the displays and reports attach to: anything that emits DownloadEvents (a Download).

import type { DownloadEvents } from '../types.js';

export interface EventSource {
  on<K extends keyof DownloadEvents>(event: K, listener: (...args: DownloadEvents[K]) => void): unknown;
}

/** Why a failed item has no message: keep the report's `error` a string in every entry. */
export function errorText(error: string | undefined, status: number | undefined): string {
  if (error) return error;
  return status !== undefined ? `HTTP ${status}` : 'unknown error';
}
