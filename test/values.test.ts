// Table tests for the pure parsers: option values and retry timing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCount, parseDuration, parseHeader, parseSize, parseRate } from '../src/cli/values.js';
import { UsageError, describeError } from '../src/errors.js';
import { backoffMs, isRetryableError, locationBytes, parseRetryAfter, retryStep } from '../src/transfer/policy.js';
import { pickHeaders } from '../src/http/head.js';
import { windowFor } from '../src/engine/run.js';

test('parseCount', () => {
  for (const [v, n] of [['0', 0], ['100', 100], [' 7 ', 7]] as const) assert.equal(parseCount('--limit', v), n);
  for (const v of ['-1', '1.5', 'x', '', '1e3', '0x10']) assert.throws(() => parseCount('--limit', v), UsageError);
  assert.throws(() => parseCount('--first', '0', 1), /--first must be a whole number >= 1/);
});

test('parseDuration', () => {
  const table: [string, number][] = [['10', 10_000], ['10s', 10_000], ['500ms', 500], ['1.5s', 1500], ['2m', 120_000], ['1h', 3_600_000]];
  for (const [v, ms] of table) assert.equal(parseDuration('--timeout', v), ms, v);
  for (const v of ['', 'fast', '-1', '10 days']) assert.throws(() => parseDuration('--timeout', v), UsageError);
});

test('parseSize is 1024-based like curl', () => {
  const table: [string, number][] = [['100', 100], ['1K', 1024], ['10M', 10 * 1024 ** 2], ['2G', 2 * 1024 ** 3], ['1.5k', 1536], ['10MB', 10 * 1024 ** 2]];
  for (const [v, n] of table) assert.equal(parseSize('--max-filesize', v), n, v);
  for (const v of ['', 'M', '-1K', '10X']) assert.throws(() => parseSize('--max-filesize', v), UsageError);
});

test('parseHeader and parseRate', () => {
  assert.deepEqual(parseHeader('Authorization: Bearer x:y'), ['authorization', 'Bearer x:y']);
  assert.deepEqual(parseHeader('X-Empty:'), ['x-empty', '']);
  for (const v of ['NoColon', ': v', 'Bad Name: v']) assert.throws(() => parseHeader(v), UsageError);
  assert.equal(parseRate('--rate', '2.5'), 2.5);
  assert.throws(() => parseRate('--rate', '-1'), UsageError);
});

test('Retry-After: seconds, HTTP-date, garbage', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('5', now), 5000);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

test('backoff: full jitter within [0, min(cap, base*2^n)]', () => {
  assert.equal(backoffMs(0, 500, 60_000, () => 0.999999), 499);
  assert.equal(backoffMs(3, 500, 60_000, () => 0.5), 2000);
  assert.equal(backoffMs(20, 500, 60_000, () => 0.5), 30_000);
  assert.equal(backoffMs(2, 500, 60_000, () => 0), 0);
});

test('retry steps: the wait Retry-After asks for, else the backoff; retries and --max-time end it', () => {
  const limits = { retries: 3, backoffBaseMs: 500, maxRetryWaitMs: 60_000, maxTimeMs: 0 };
  const half = () => 0.5;
  const table: Array<[string, number, typeof limits, number, number | undefined, unknown]> = [
    ['no Retry-After: the backoff', 1, limits, 0, undefined, { kind: 'retry', waitMs: 500 }],
    ['Retry-After: 7', 1, limits, 0, 7000, { kind: 'retry', waitMs: 7000 }],
    ['Retry-After shorter than the backoff still rules', 2, limits, 0, 300, { kind: 'retry', waitMs: 300 }],
    // 0 (or a date gone by) asks for no wait: the backoff, or every retry came at once.
    ['Retry-After: 0', 1, limits, 0, 0, { kind: 'retry', waitMs: 500 }],
    ['retries used up', 3, limits, 0, undefined, { kind: 'fail', error: 'HTTP 503 (after 4 attempts)' }],
    ['--retries 0', 0, { ...limits, retries: 0 }, 0, undefined, { kind: 'fail', error: 'HTTP 503' }],
    ['--max-time reached by the wait', 0, { ...limits, maxTimeMs: 5000 }, 4000, 2000, { kind: 'fail', error: 'HTTP 503; --max-time 5s reached before the next attempt' }],
  ];
  for (const [what, retry, l, spent, wait, want] of table) assert.deepEqual(retryStep('HTTP 503', retry, l, spent, wait, half), want, what);
});

test('which errors are retried, and how they read', () => {
  const e = (code: string) => Object.assign(new Error('x'), { code });
  for (const c of ['ECONNRESET', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']) {
    assert.ok(isRetryableError(e(c)), c);
  }
  for (const c of ['ENOTFOUND', 'CERT_HAS_EXPIRED', 'EACCES']) assert.ok(!isRetryableError(e(c)), c);
  assert.ok(isRetryableError({ cause: e('ECONNRESET') }));
  assert.equal(describeError(e('ECONNREFUSED')), 'connection refused');
  assert.equal(describeError(new Error('first\nsecond')), 'first');
});

test('pickHeaders: the headers a verdict reads, any case, the first of each, as latin1 text; the rest left out', () => {
  const raw = (pairs: Array<[string, string | Buffer]>) => pairs.flatMap(([n, v]) => [Buffer.from(n, 'latin1'), Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1')]);
  const cases: Array<[string, Array<[string, string | Buffer]>, Record<string, string>]> = [
    ['none', [], {}],
    ['others only', [['Server', 'nginx'], ['Date', 'x'], ['Content-Type', 'text/plain']], {}],
    ['mixed case', [['CONTENT-LENGTH', '12'], ['eTaG', '"a"'], ['Last-Modified', 'Tue, 01 Dec 2026 10:00:00 GMT']], { 'content-length': '12', etag: '"a"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }],
    ['first of a repeated one', [['Location', '/one'], ['location', '/two']], { location: '/one' }],
    ['every wanted name', [['Content-Range', 'bytes 0-1/2'], ['Content-Disposition', 'attachment; filename=a'], ['Retry-After', '3']], { 'content-range': 'bytes 0-1/2', 'content-disposition': 'attachment; filename=a', 'retry-after': '3' }],
    ['same length, other name', [['Content-Lengtx', '1'], ['Accept-Ranges', 'bytes'], ['date', 'x']], {}],
    ['latin1 bytes kept as such', [['Content-Disposition', Buffer.from([0x61, 0xe9])]], { 'content-disposition': 'a\u00e9' }],
  ];
  for (const [name, pairs, want] of cases) assert.deepEqual({ ...pickHeaders(raw(pairs)) }, want, name);
});

test('windowFor: twice --limit (128 at least, 10,000 at most) while every slot is busy, up to 10,000 while slots go unused; 8,000 for --limit 0', () => {
  const cases: Array<[limit: number, window: number, maxWindow: number]> = [
    [64, 128, 10_000],
    [100, 200, 10_000],
    [10, 128, 10_000],
    [4, 128, 10_000],
    [6000, 10_000, 10_000],
    [0, 8000, 8000],
  ];
  for (const [limit, window, maxWindow] of cases) assert.deepEqual(windowFor(limit), { window, maxWindow }, `-l ${limit}`);
});

test('locationBytes: bytes above 0x7f percent-encoded as they came, the rest untouched', () => {
  const table: [string, string][] = [
    ['/plain/a.txt?q=1#f', '/plain/a.txt?q=1#f'],
    ['/caf\u00c3\u00a9', '/caf%C3%A9'], // raw UTF-8 `é`, as undici hands it over (latin1)
    ['/\u00e9', '/%E9'], // a lone latin1 byte
    ['http://h/%C3%A9', 'http://h/%C3%A9'],
    ['/a b', '/a b'],
  ];
  for (const [input, want] of table) assert.equal(locationBytes(input), want, input);
});
