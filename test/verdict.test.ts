// classify(): what one response head means for the item, a row per answer a server can give.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, type Asked, type Verdict } from '../src/transfer/verdict.js';

const NOW = Date.parse('2026-12-02T00:00:00Z');
const plain: Asked = { conditional: false, maxFilesize: 0, maxRetryWaitMs: 60_000, contentDisposition: false };
const resume = { offset: 100, validator: '"e1"', size: 300 };

const rows: Array<[string, number, Record<string, string>, Partial<Asked>, Partial<Verdict> & { kind: Verdict['kind'] }]> = [
  ['200 with a length', 200, { 'content-length': '42', etag: '"x"' }, {}, { kind: 'body', offset: 0, expectedTotal: 42, bodyLength: 42, etag: '"x"' }],
  ['200 without a length', 200, {}, {}, { kind: 'body', offset: 0, expectedTotal: -1, bodyLength: -1 }],
  ['200 with a length that is not a number', 200, { 'content-length': '4x' }, {}, { kind: 'body', expectedTotal: -1, bodyLength: -1 }],
  ['203 (a proxy changed it) is the file', 203, { 'content-length': '7' }, {}, { kind: 'body', offset: 0, expectedTotal: 7 }],
  ['204 is an empty file, whatever Content-Length says', 204, { 'content-length': '5' }, {}, { kind: 'body', offset: 0, expectedTotal: 0, bodyLength: 0 }],
  ['204 where the input line promised bytes', 204, {}, { size: 10 }, { kind: 'final', outcome: 'failed', discard: true }],
  ['200 to a resume starts over', 200, { 'content-length': '300' }, { resume }, { kind: 'body', offset: 0, expectedTotal: 300 }],
  ['206 continuing the partial exactly', 206, { 'content-length': '200', 'content-range': 'bytes 100-299/300' }, { resume }, { kind: 'body', offset: 100, expectedTotal: 300 }],
  ['206 from elsewhere in the file', 206, { 'content-range': 'bytes 50-299/300' }, { resume }, { kind: 'restart' }],
  ['206 of another size than recorded', 206, { 'content-range': 'bytes 100-399/400' }, { resume }, { kind: 'restart' }],
  ['206 to a request for the whole file', 206, { 'content-range': 'bytes 0-9/10' }, {}, { kind: 'final', outcome: 'failed' }],
  ['301 with a Location', 301, { location: '/there' }, {}, { kind: 'redirect', location: '/there' }],
  ['302 without a Location', 302, {}, {}, { kind: 'final', outcome: 'failed' }],
  ['304 to a conditional request', 304, {}, { conditional: true }, { kind: 'unchanged' }],
  ['304 to a plain request', 304, {}, {}, { kind: 'final', outcome: 'failed' }],
  ['404', 404, {}, {}, { kind: 'final', outcome: 'notFound' }],
  ['410', 410, {}, {}, { kind: 'final', outcome: 'notFound' }],
  ['416 to a resume', 416, {}, { resume }, { kind: 'restart' }],
  ['416 to a plain request', 416, {}, {}, { kind: 'final', outcome: 'failed' }],
  ['500', 500, {}, {}, { kind: 'retry', waitMs: undefined, pauseMs: undefined }],
  ['503 with Retry-After in seconds pauses the endpoint', 503, { 'retry-after': '7' }, {}, { kind: 'retry', waitMs: 7000, pauseMs: 7000 }],
  ['429 with an HTTP date', 429, { 'retry-after': 'Wed, 02 Dec 2026 00:00:30 GMT' }, {}, { kind: 'retry', waitMs: 30_000, pauseMs: 30_000 }],
  ['502 with Retry-After waits but pauses nobody else', 502, { 'retry-after': '3' }, {}, { kind: 'retry', waitMs: 3000, pauseMs: undefined }],
  ['429 asking longer than --max-retry-wait', 429, { 'retry-after': '3600' }, {}, { kind: 'final', outcome: 'failed' }],
  ['201 is not the file', 201, {}, {}, { kind: 'final', outcome: 'failed', reason: 'HTTP 201' }],
  ['205 is not the file', 205, {}, {}, { kind: 'final', outcome: 'failed', reason: 'HTTP 205' }],
  ['418', 418, {}, {}, { kind: 'final', outcome: 'failed', reason: 'HTTP 418' }],
  ['announced larger than --max-filesize', 200, { 'content-length': '2000' }, { maxFilesize: 1000 }, { kind: 'final', outcome: 'failed', discard: true }],
  ['announced size other than the line promised', 200, { 'content-length': '11' }, { size: 10 }, { kind: 'final', outcome: 'failed', discard: true }],
  ['Content-Disposition read only when asked', 200, { 'content-disposition': 'attachment; filename=a.txt' }, { contentDisposition: true }, { kind: 'body', disposition: 'attachment; filename=a.txt' }],
  ['Content-Disposition ignored otherwise', 200, { 'content-disposition': 'attachment; filename=a.txt' }, {}, { kind: 'body', disposition: undefined }],
];

test('classify: every answer a server can give, as a verdict', () => {
  for (const [what, status, headers, asked, want] of rows) {
    const got = classify(status, headers, { ...plain, ...asked }, NOW) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, `${what}: ${k}`);
  }
});
