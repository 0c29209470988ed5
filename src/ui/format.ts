// Human-readable numbers for the progress display and the report.
// Decimal units throughout (1 kB = 1,000 bytes), as SPEC.md asks, so figures agree with curl/wget-style
// "MB" that people compare against and with network rates, which are always decimal.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/**
 * `0 B`, `999 B`, `1.0 kB`, `2.4 MB`, `120 MB`, `1.23 GB`.
 * One decimal below 100 and none at or above; from GB up, two decimals below 10, because a
 * multi-gigabyte run would otherwise show the same `1.2 GB` for minutes on end.
 */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) n = 0;
  let unit = 0;
  let v = n;
  while (v >= 1000 && unit < UNITS.length - 1) {
    v /= 1000;
    unit++;
  }
  // Rounding can carry into the next unit (999,960 B is 1000.0 kB): redo with the larger unit.
  for (;;) {
    const text = unit === 0 ? String(Math.round(v)) : v.toFixed(decimalsFor(v, unit));
    if (Number(text) >= 1000 && unit < UNITS.length - 1) {
      v /= 1000;
      unit++;
      continue;
    }
    return `${text} ${UNITS[unit]}`;
  }
}

function decimalsFor(v: number, unit: number): number {
  // Decide on the rounded value so that 99.96 is shown as `100` rather than `100.0`.
  if (unit >= 3 && Number(v.toFixed(2)) < 10) return 2;
  return Number(v.toFixed(1)) < 100 ? 1 : 0;
}

/** `1.9 MB/s`. */
export function humanRate(bytesPerSec: number): string {
  return `${humanBytes(bytesPerSec)}/s`;
}

/** ETA style: `42s`, `3m05s`, `1h02m`. Seconds are rounded so that a steady ETA does not flicker. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  const total = Math.round(ms / 1000);
  if (total < 60) return `${total}s`;
  if (total < 3600) {
    const m = Math.floor(total / 60);
    return `${m}m${pad2(total % 60)}s`;
  }
  // Hours view drops seconds; round to the nearest minute so 1h59m59s does not read 1h59m.
  const minutes = Math.round(total / 60);
  return `${Math.floor(minutes / 60)}h${pad2(minutes % 60)}m`;
}

/** The report's elapsed time: `1.27s`. */
export function elapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  return `${(ms / 1000).toFixed(2)}s`;
}

/** `[00:12]`, `[1:02:03]` for the plain status lines. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s % 60)}` : `${pad2(m)}:${pad2(s % 60)}`;
}

/** `1,234`: fixed separators, independent of the locale the process happens to run under. */
export function groupDigits(n: number): string {
  const s = String(Math.trunc(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
