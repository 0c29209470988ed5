import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { EventEmitter } from 'node:events';
import { newStats, type DownloadEvents, type FailureEntry, type Item, type ItemResult, type Outcome, type Stats, type Summary } from '../src/types.js';
import { elapsed, humanBytes, humanDuration, humanRate } from '../src/ui/format.js';
import { FailureLog } from '../src/ui/failures.js';
import { SaveFailedWriter } from '../src/ui/save-failed.js';
import { attachVerbose } from '../src/ui/verbose.js';
import { textReport, type ReportContext } from '../src/ui/text-report.js';
import { writeJsonReport } from '../src/ui/json-report.js';
import { parseLine } from '../src/items/lines.js';

/** What a Download emits, without a download behind it. */
const events = () => new EventEmitter<DownloadEvents>();

function item(url: string, extra: Partial<Item> = {}): Item {
  return { seq: 0, url: new URL(url), out: new URL(url).pathname.split('/').pop() || 'index.html', source: 'argv', line: 1, ...extra };
}

function result(outcome: Outcome, url: string, extra: Partial<ItemResult> = {}, itemExtra: Partial<Item> = {}): ItemResult {
  const it = item(url, itemExtra);
  return { item: it, url: it.url.href, out: it.out, outcome, attempts: 1, bytes: 0, timeMs: 0, ...extra } as ItemResult;
}

function stats(over: Partial<Stats>): Stats {
  return { ...newStats(), ...over };
}

function ctx(over: Partial<Stats>, elapsedMs: number, noun: 'files' | 'flags' = 'files'): ReportContext {
  return { noun, stats: stats(over), elapsedMs };
}

/** A run's summary as the engine makes it (see engine/download.ts). */
function summary(over: Partial<Stats>, elapsedMs: number, limits = { total: 100, perHost: 0 }): Summary {
  const s = stats(over);
  return {
    version: '0.1.0',
    startedAt: s.startedAt.toISOString(),
    elapsedMs: Math.round(elapsedMs),
    limits,
    counts: { downloaded: s.downloaded, unchanged: s.unchanged, skipped: s.skipped, notFound: s.notFound, failed: s.failed, invalid: s.invalid },
    bytes: s.bytes,
    retries: s.retries,
    failures: [],
    hosts: [],
    failuresLeftOut: 0,
    interrupted: false,
  };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkget-ui-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(log: FailureLog): Promise<FailureEntry[]> {
  const out: FailureEntry[] = [];
  for await (const e of log.entries()) out.push(e);
  return out;
}

describe('format', () => {
  it('humanBytes: decimal units, one decimal below 100, none from 100', () => {
    const cases: Array<[number, string]> = [
      [0, '0 B'],
      [1, '1 B'],
      [999, '999 B'],
      [1000, '1.0 kB'],
      [1049, '1.0 kB'],
      [1050, '1.1 kB'],
      [99_940, '99.9 kB'],
      [99_960, '100 kB'],
      [999_499, '999 kB'],
      [999_960, '1.0 MB'],
      [2_400_000, '2.4 MB'],
      [120_000_000, '120 MB'],
      [1_230_000_000, '1.23 GB'],
      [9_996_000_000, '10.0 GB'],
      [250_000_000_000, '250 GB'],
      [3_500_000_000_000, '3.50 TB'],
      [-5, '0 B'],
      [Number.NaN, '0 B'],
    ];
    for (const [n, want] of cases) assert.equal(humanBytes(n), want, `humanBytes(${n})`);
  });

  it('humanRate', () => {
    assert.equal(humanRate(2_400_000 / 1.27), '1.9 MB/s');
    assert.equal(humanRate(0), '0 B/s');
    assert.equal(humanRate(512.4), '512 B/s');
  });

  it('humanDuration: s, m+ss, h+mm', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [42_000, '42s'],
      [59_400, '59s'],
      [59_600, '1m00s'],
      [185_000, '3m05s'],
      [3_599_000, '59m59s'],
      [3_600_000, '1h00m'],
      [3_720_000, '1h02m'],
      [7_199_000, '2h00m'],
      [-1, '0s'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `humanDuration(${ms})`);
  });

  it('elapsed: two decimals', () => {
    assert.equal(elapsed(1270), '1.27s');
    assert.equal(elapsed(0), '0.00s');
    assert.equal(elapsed(61_005), '61.01s');
  });
});

describe('textReport', () => {
  it('reproduces the SPEC example exactly', () => {
    const c = ctx({ downloaded: 18, bytesDone: 2_400_000, bytes: 2_400_000, skipped: 1, notFound: 1, failed: 2, queued: 22 }, 1270);
    assert.equal(
      textReport(c),
      [
        '--------------------',
        '18 files downloaded (2.4 MB).',
        '1 skipped (already present).',
        '1 not found.',
        '2 errors.',
        'Elapsed time: 1.27s (14.2 files/s, 1.9 MB/s)',
        '',
      ].join('\n'),
    );
  });

  it('says flags for the flags command, and leaves zero lines out', () => {
    const c = ctx({ downloaded: 20, bytesDone: 300_000, bytes: 300_000 }, 1000, 'flags');
    assert.equal(
      textReport(c),
      '--------------------\n20 flags downloaded (300 kB).\nElapsed time: 1.00s (20.0 flags/s, 300 kB/s)\n',
    );
  });

  it('prints unchanged, invalid and singular forms', () => {
    const c = ctx({ downloaded: 1, bytesDone: 1000, bytes: 5000, unchanged: 3, failed: 1, invalid: 2 }, 2000);
    assert.equal(
      textReport(c),
      [
        '--------------------',
        '1 file downloaded (1.0 kB).',
        '3 unchanged (not modified).',
        '1 error.',
        '2 invalid input lines.',
        'Elapsed time: 2.00s (0.5 files/s, 2.5 kB/s)',
        '',
      ].join('\n'),
    );
    assert.match(textReport(ctx({ invalid: 1 }, 10)), /^1 invalid input line\.$/m);
  });

  it('says there was nothing to download, and survives a zero elapsed time', () => {
    assert.equal(
      textReport(ctx({}, 0)),
      '--------------------\nNothing to download.\nElapsed time: 0.00s (0.0 files/s, 0 B/s)\n',
    );
  });

  it('counts items stopped under way (Ctrl-C): started, not ended', () => {
    assert.equal(
      textReport(ctx({ downloaded: 1, bytesDone: 1000, bytes: 3000, queued: 3 }, 1000)),
      '--------------------\n1 file downloaded (1.0 kB).\n2 interrupted (run again to finish).\nElapsed time: 1.00s (1.0 files/s, 3.0 kB/s)\n',
    );
    assert.doesNotMatch(textReport(ctx({ queued: 2 }, 1000)), /Nothing/);
  });

  it('a run that only skipped is not "nothing"', () => {
    const text = textReport(ctx({ skipped: 5 }, 100));
    assert.doesNotMatch(text, /Nothing/);
    assert.match(text, /^5 skipped \(already present\)\.$/m);
    assert.doesNotMatch(text, /downloaded/);
  });
});

describe('FailureLog', () => {
  it('collects failed, notFound and invalid from the bus, ignoring successes', async (t) => {
    const bus = events();
    const log = new FailureLog().attach(bus);
    t.after(() => log.close());
    bus.emit('result', result('downloaded', 'https://h.example/ok'));
    bus.emit('result', result('failed', 'https://h.example/a', { status: 500, error: 'HTTP 500', attempts: 4 }));
    bus.emit('result', result('notFound', 'https://h.example/b', { status: 404 }));
    bus.emit('result', result('failed', 'https://h.example/c', { error: 'connect ECONNREFUSED' }));
    bus.emit('invalid', { source: 'list.txt', line: 7, text: 'ftp://x/y', reason: 'not an http(s) URL' });
    bus.emit('retry', { item: item('https://h.example/d'), attempt: 1, delayMs: 10, reason: 'reset' });
    assert.equal(log.count, 4);
    assert.deepEqual(await collect(log), [
      { url: 'https://h.example/a', status: 500, error: 'HTTP 500', attempts: 4, kind: 'failed' },
      { url: 'https://h.example/b', status: 404, error: 'HTTP 404', attempts: 1, kind: 'notFound' },
      { url: 'https://h.example/c', error: 'connect ECONNREFUSED', attempts: 1, kind: 'failed' },
      { url: 'ftp://x/y', error: 'not an http(s) URL', attempts: 0, kind: 'invalid', source: 'list.txt', line: 7 },
    ]);
  });

  it('spills past 10,000 entries to a temp file, yields all in order, and removes the file', async (t) => {
    const tmp = await tempDir(t);
    const log = new FailureLog({ tmpDir: tmp });
    const n = 25_000;
    for (let i = 0; i < n; i++) log.add({ url: `https://h.example/${i}`, status: 503, error: 'HTTP 503', attempts: 4, kind: 'failed' });
    assert.equal(log.count, n);
    assert.ok(log.spilled, 'entries past the memory limit went to disk');
    assert.equal((await readdir(tmp)).length, 1, 'one spill directory under the temp dir');

    let i = 0;
    for await (const e of log.entries()) {
      assert.equal(e.url, `https://h.example/${i}`);
      i++;
    }
    assert.equal(i, n);
    // A second pass reads the same list again.
    assert.equal((await collect(log)).length, n);

    await log.close();
    assert.deepEqual(await readdir(tmp), [], 'the spill file is removed at the end');
  });

  it('stays in memory below the limit', async (t) => {
    const tmp = await tempDir(t);
    const log = new FailureLog({ tmpDir: tmp });
    for (let i = 0; i < 10_000; i++) log.add({ url: `https://h.example/${i}`, error: 'HTTP 404', attempts: 1, kind: 'notFound' });
    assert.equal(log.spilled, false);
    assert.equal((await collect(log)).length, 10_000);
    await log.close();
    assert.deepEqual(await readdir(tmp), []);
  });
});

describe('writeJsonReport', () => {
  function failures(): FailureLog {
    const log = new FailureLog();
    log.add({ url: 'https://h.example/a', status: 500, error: 'HTTP 500', attempts: 4, kind: 'failed' });
    log.add({ url: 'https://h.example/b', status: 404, error: 'HTTP 404', attempts: 1, kind: 'notFound' });
    log.add({ url: 'https://h.example/c', error: 'connect ECONNREFUSED', attempts: 4, kind: 'failed' });
    log.add({ url: 'file:///etc/passwd', error: 'not an http(s) URL', attempts: 0, kind: 'invalid', source: 'list.txt', line: 3 });
    return log;
  }

  it('writes the SPEC schema to FILE via FILE.tmp', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'report.json');
    const log = failures();
    t.after(() => log.close());
    const c = summary({ downloaded: 18, skipped: 1, notFound: 1, failed: 2, invalid: 1, bytes: 2_500_000, bytesDone: 2_400_000, retries: 6 }, 1270.4, { total: 10, perHost: 2 });
    await writeJsonReport(c, log, file);
    assert.deepEqual(await readdir(dir), ['report.json'], 'the temp file was renamed');

    const text = await readFile(file, 'utf8');
    const json = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['version', 'startedAt', 'elapsedMs', 'limits', 'counts', 'bytes', 'retries', 'failures', 'hosts']);
    assert.equal(json.version, '0.1.0');
    assert.equal(typeof json.startedAt, 'string');
    assert.match(json.startedAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(json.startedAt, c.startedAt);
    assert.equal(json.elapsedMs, 1270);
    assert.deepEqual(json.limits, { total: 10, perHost: 2 });
    assert.deepEqual(json.counts, { downloaded: 18, unchanged: 0, skipped: 1, notFound: 1, failed: 2, invalid: 1 });
    assert.equal(json.bytes, 2_500_000);
    assert.equal(json.retries, 6);

    const list = json.failures as Array<Record<string, unknown>>;
    assert.equal(list.length, 4);
    assert.deepEqual(list[0], { url: 'https://h.example/a', status: 500, error: 'HTTP 500', attempts: 4, kind: 'failed' });
    assert.deepEqual(list[1], { url: 'https://h.example/b', status: 404, error: 'HTTP 404', attempts: 1, kind: 'notFound' });
    // No response at all: the key is still there, with null.
    assert.deepEqual(list[2], { url: 'https://h.example/c', status: null, error: 'connect ECONNREFUSED', attempts: 4, kind: 'failed' });
    assert.deepEqual(list[3], { url: 'file:///etc/passwd', error: 'not an http(s) URL', attempts: 0, kind: 'invalid', source: 'list.txt', line: 3 });
    for (const f of list) {
      assert.equal(typeof f.url, 'string');
      assert.equal(typeof f.error, 'string');
      assert.equal(typeof f.attempts, 'number');
      if (f.kind === 'invalid') {
        assert.equal('status' in f, false);
        assert.equal(typeof f.source, 'string');
        assert.equal(typeof f.line, 'number');
      } else {
        assert.ok(typeof f.status === 'number' || f.status === null);
      }
    }
  });

  it('writes an empty failure list as []', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'r.json');
    const log = new FailureLog();
    await writeJsonReport(summary({ downloaded: 1 }, 5), log, file);
    const json = JSON.parse(await readFile(file, 'utf8')) as { failures: unknown[] };
    assert.deepEqual(json.failures, []);
  });

  it('streams a spilled failure list to a stream, leaving the stream open', async (t) => {
    const tmp = await tempDir(t);
    const log = new FailureLog({ tmpDir: tmp });
    t.after(() => log.close());
    for (let i = 0; i < 12_345; i++) log.add({ url: `https://h.example/${i}`, status: 404, error: 'HTTP 404', attempts: 1, kind: 'notFound' });
    const out = new PassThrough({ highWaterMark: 1024 });
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeJsonReport(summary({ notFound: 12_345 }, 10), log, out);
    assert.equal(out.writableEnded, false);
    const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { failures: Array<{ url: string }> };
    assert.equal(json.failures.length, 12_345);
    assert.equal(json.failures[12_344]!.url, 'https://h.example/12344');
  });

  it('leaves no FILE.tmp behind when the target directory is missing', async (t) => {
    const dir = await tempDir(t);
    const log = new FailureLog();
    await assert.rejects(writeJsonReport(summary({}, 1), log, join(dir, 'missing', 'r.json')));
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('SaveFailedWriter', () => {
  it('writes re-runnable JSON lines and comment lines for invalid input', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'failed.jsonl');
    const bus = events();
    const w = new SaveFailedWriter(file).attach(bus);
    const sha = 'ab'.repeat(32);
    bus.emit('result', result('downloaded', 'https://h.example/ok.gif'));
    bus.emit('result', result('failed', 'https://h.example/a.gif', { status: 503, error: 'HTTP 503 after 4 attempts' }, { out: 'sub/a.gif', sha256: sha, size: 42 }));
    bus.emit('result', result('notFound', 'https://h.example/b%20c.gif', { status: 404 }, { out: 'b c.gif' }));
    bus.emit('result', result('failed', 'https://h.example/x', { error: 'line one\nline two' }, { out: 'x' }));
    bus.emit('invalid', { source: 'urls.txt', line: 9, text: 'ftp://h.example/z', reason: 'not an http(s) URL' });
    bus.emit('result', result('skipped', 'https://h.example/s.gif'));
    await w.close();
    assert.equal(w.count, 4);

    const text = await readFile(file, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, 4);
    const records = lines.filter((l) => !l.startsWith('#')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 3);
    for (const r of records) {
      assert.equal(typeof r.url, 'string');
      assert.equal(typeof r.out, 'string');
      assert.equal(typeof r.error, 'string');
    }
    assert.deepEqual(records[0], { url: 'https://h.example/a.gif', out: 'sub/a.gif', sha256: sha, size: 42, status: 503, error: 'HTTP 503 after 4 attempts' });
    assert.deepEqual(records[1], { url: 'https://h.example/b%20c.gif', out: 'b c.gif', status: 404, error: 'HTTP 404' });
    assert.deepEqual(records[2], { url: 'https://h.example/x', out: 'x', error: 'line one\nline two' });
    assert.equal(lines[3], '# invalid urls.txt:9: ftp://h.example/z (not an http(s) URL)');

    // The input reader takes the file back: the same URLs and paths, the comment skipped.
    const parsed = lines.map((l) => {
      const p = parseLine(l);
      return p.kind === 'entry' ? { ...p, url: p.url.href } : p;
    });
    assert.deepEqual(parsed[0], { kind: 'entry', url: 'https://h.example/a.gif', out: 'sub/a.gif', sha256: sha, size: 42 });
    assert.deepEqual(parsed[1], { kind: 'entry', url: 'https://h.example/b%20c.gif', out: 'b c.gif' });
    assert.deepEqual(parsed[3], { kind: 'skip' });
  });

  it('refuses an unwritable path at once', async (t) => {
    const dir = await tempDir(t);
    assert.throws(() => new SaveFailedWriter(join(dir, 'no', 'such', 'dir', 'f.jsonl')), /ENOENT/);
  });
});

describe('attachVerbose', () => {
  function run(opts: { quiet: boolean; verbose: boolean }): string[] {
    const bus = events();
    const err = new PassThrough();
    const lines: string[] = [];
    err.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    attachVerbose(bus, err, opts);
    bus.emit('result', result('downloaded', 'https://h.example/a.gif'));
    bus.emit('result', result('downloaded', 'https://h.example/cn/cn.gif', {}, { label: 'CN' }));
    bus.emit('result', result('unchanged', 'https://h.example/u.gif'));
    bus.emit('result', result('skipped', 'https://h.example/s.gif'));
    bus.emit('result', result('notFound', 'https://h.example/zz/zz.gif', { status: 404 }, { label: 'ZZ' }));
    bus.emit('result', result('failed', 'https://h.example/e.gif', { status: 500, error: 'HTTP 500' }));
    bus.emit('retry', { item: item('https://h.example/r'), attempt: 1, delayMs: 5, reason: 'reset' });
    bus.emit('invalid', { source: 'argv', line: 2, text: 'nope', reason: 'not an absolute URL' });
    return lines;
  }

  const errors = ['*** Error for https://h.example/e.gif: HTTP 500', '*** Invalid input argv:2: not an absolute URL'];

  it('verbose: one line per finished item', () => {
    assert.deepEqual(run({ quiet: false, verbose: true }), [
      'https://h.example/a.gif OK',
      'CN OK',
      'https://h.example/u.gif unchanged',
      'https://h.example/s.gif skipped',
      'ZZ not found',
      errors[0],
      errors[1],
    ]);
  });

  it('normal: only errors and invalid input', () => {
    assert.deepEqual(run({ quiet: false, verbose: false }), errors);
  });

  it('quiet: only errors and invalid input, even with verbose', () => {
    assert.deepEqual(run({ quiet: true, verbose: false }), errors);
    assert.deepEqual(run({ quiet: true, verbose: true }), errors);
  });

  it('goes through opts.log when given (the progress bar)', () => {
    const bus = events();
    const got: string[] = [];
    const err = new PassThrough();
    attachVerbose(bus, err, { quiet: false, verbose: true, log: (l) => got.push(l) });
    bus.emit('result', result('downloaded', 'https://h.example/a.gif'));
    assert.deepEqual(got, ['https://h.example/a.gif OK']);
    assert.equal(err.read(), null);
  });
});
