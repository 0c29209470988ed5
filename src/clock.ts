// bulkget's clock: milliseconds since the process started, monotonic, for measuring spans.
// Not performance.now(), whose first use loads node:perf_hooks and its eight modules: 2-8 ms of
// every run under the shebang's V8 flags (which make Node compile its built-in modules from
// source; Node 20.20, 5 runs). The two differ by their origin only (1-10 ms apart).

/** Milliseconds since the process started, on a monotonic clock (process.uptime()). */
export function nowMs(): number {
  return process.uptime() * 1000;
}
