// Option values: pure parsers shared by the commands. Each throws UsageError with one line.

import { UsageError } from '../errors.js';

export function parseCount(name: string, value: string, min = 0): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${name} must be a whole number >= ${min}, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be a whole number >= ${min}, got "${value}"`);
  return n;
}

export function parseRate(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a number >= 0, got "${value}"`);
  return n;
}

/** Seconds by default; `ms`, `s`, `m`, `h` suffixes accepted ("500ms", "1.5s", "2m"). Returns ms. */
export function parseDuration(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`${name} must be a duration such as 10, 10s, 500ms or 2m, got "${value}"`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/** Sizes as in curl: bytes, or K, M, G (1024-based), optional trailing B ("10M", "1.5G", "512k"). */
export function parseSize(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`${name} must be a size such as 500K, 10M or 2G, got "${value}"`);
  const pow = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** pow);
}

export function parseHeader(value: string): [string, string] {
  const i = value.indexOf(':');
  const name = i > 0 ? value.slice(0, i).trim() : '';
  if (!name || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new UsageError(`--header must look like "Name: value", got "${value}"`);
  }
  const v = value.slice(i + 1).trim();
  if (/[\r\n\0]/.test(v)) throw new UsageError(`--header value must not contain line breaks: "${name}"`);
  return [name.toLowerCase(), v];
}

export function parseChoice<T extends string>(name: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${name} must be one of ${choices.join(', ')}, got "${value}"`);
}
