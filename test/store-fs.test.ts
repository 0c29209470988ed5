import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, existsSync, writeSync, lstatSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, linkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestError, SafeDirs, prepareDest } from '../src/store/dest.js';
import { PathError, commitPart, discardPart, fileExists, openPart, partSize } from '../src/store/files.js';
import { StateStore } from '../src/store/state.js';
import { LockBusyError, acquireLock, readLockRecord } from '../src/store/lock.js';
import { hostname } from 'node:os';
import { gzipSync } from 'node:zlib';

/** A temp root holding DEST and, beside it, a folder that must never change. */
function sandbox(t: { after: (fn: () => void) => void }): { root: string; dest: string; outside: string } {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'bulkget-store-')));
  const dest = join(root, 'dest');
  const outside = join(root, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim.txt'), 'precious');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return { root, dest, outside };
}

function outsideUnchanged(outside: string): void {
  assert.deepEqual(readdirSync(outside), ['victim.txt']);
  assert.equal(readFileSync(join(outside, 'victim.txt'), 'utf8'), 'precious');
}

test('prepareDest: creates DEST, proves it writable, returns the real path', async (t) => {
  const { root } = sandbox(t);
  const dest = join(root, 'new', 'deeper');
  const real = prepareDest(dest);
  assert.equal(real, realpathSync(dest));
  assert.ok(lstatSync(join(dest, '.bulkget')).isDirectory());
  assert.equal(lstatSync(join(dest, '.bulkget')).mode & 0o777, 0o700, 'private');
  assert.deepEqual(readdirSync(join(dest, '.bulkget')), ['partial']); // the probe is gone
  // A .bulkget left readable by others (an older bulkget, a cp -r) is made private again.
  chmodSync(join(dest, '.bulkget'), 0o755);
  assert.equal(prepareDest(dest), real);
  assert.equal(lstatSync(join(dest, '.bulkget')).mode & 0o777, 0o700, 'private again');
});

test('prepareDest: a path under a regular file throws DestError', async (t) => {
  const { root } = sandbox(t);
  writeFileSync(join(root, 'file'), 'x');
  const dest = join(root, 'file', 'sub');
  assert.throws(() => prepareDest(dest), (err: unknown) => {
    assert.ok(err instanceof DestError);
    assert.equal(err.message, `cannot write to DEST ${dest}: ENOTDIR`);
    return true;
  });
});

test('prepareDest: a .bulkget symlink out of DEST is refused', async (t) => {
  const { dest, outside } = sandbox(t);
  symlinkSync(outside, join(dest, '.bulkget'));
  assert.throws(() => prepareDest(dest), DestError);
  outsideUnchanged(outside);
});

test('SafeDirs: creates parents, refuses a symlinked folder and a file in the way', async (t) => {
  const { dest, outside } = sandbox(t);
  const dirs = new SafeDirs(dest);
  assert.equal(await dirs.ensureParent('a/b/c.txt'), join(dest, 'a', 'b', 'c.txt'));
  assert.ok(lstatSync(join(dest, 'a', 'b')).isDirectory());
  assert.equal(await dirs.ensureParent('flat.txt'), join(dest, 'flat.txt'));

  symlinkSync(outside, join(dest, 'evil'));
  await assert.rejects(dirs.ensureParent('evil/x.txt'), (err: unknown) => {
    assert.ok(err instanceof PathError);
    assert.equal(err.message, 'path escapes DEST through a symlink: evil/x.txt');
    return true;
  });
  await assert.rejects(dirs.ensureParent('evil/deeper/x.txt'), PathError);
  symlinkSync(outside, join(dest, 'a', 'link'));
  await assert.rejects(dirs.ensureParent('a/link/x.txt'), /symlink/);

  writeFileSync(join(dest, 'plain'), 'x');
  await assert.rejects(dirs.ensureParent('plain/x.txt'), /not a folder/);

  for (const bad of ['../x', 'a/../../x', '.bulkget/lock', 'a//b', './x', 'a\\b']) {
    await assert.rejects(dirs.ensureParent(bad), PathError, bad);
  }
  outsideUnchanged(outside);
});

test('SafeDirs.place: a folder is fresh only when it held nothing of the user\'s', async (t) => {
  // Fresh folders skip the lstat of each file and its .part, so a wrong "fresh" would overwrite
  // a file that --if-exists skip must keep, or ignore a .part that should be resumed.
  const { dest } = sandbox(t);
  mkdirSync(join(dest, '.bulkget'));
  mkdirSync(join(dest, 'empty'));
  mkdirSync(join(dest, 'full'));
  writeFileSync(join(dest, 'full', 'old.bin'), 'x');
  mkdirSync(join(dest, 'onlypart'));
  writeFileSync(join(dest, 'onlypart', 'f.bin.part'), 'x');
  const dirs = new SafeDirs(dest);
  // DEST holds only bulkget's own folder plus the ones above: not fresh. No partial folder
  // holding anything: partials are fresh.
  assert.deepEqual(await dirs.place('top.bin'), {
    abs: join(dest, 'top.bin'),
    part: join(dest, '.bulkget', 'partial', 'top.bin.part'),
    fresh: false,
    partFresh: true,
  });
  assert.equal((await dirs.place('empty/a.bin')).fresh, true);
  assert.equal((await dirs.place('made/by/run.bin')).fresh, true); // created by this run
  assert.equal((await dirs.place('full/new.bin')).fresh, false);
  assert.equal((await dirs.place('onlypart/f.bin')).fresh, false);
  // Asked again (from the cache of verified folders): the same answers.
  assert.equal((await dirs.place('empty/b.bin')).fresh, true);
  assert.equal((await dirs.place('full/other.bin')).fresh, false);

  const bare = sandbox(t).dest;
  mkdirSync(join(bare, '.bulkget'));
  assert.equal((await new SafeDirs(bare).place('x.bin')).fresh, true); // only .bulkget: fresh
  const one = sandbox(t).dest;
  writeFileSync(join(one, 'x.bin'), 'mine');
  assert.equal((await new SafeDirs(one).place('x.bin')).fresh, false);
  // A partial left by an earlier run: partials are not fresh, wherever the file goes.
  const left = sandbox(t).dest;
  mkdirSync(join(left, '.bulkget', 'partial'), { recursive: true });
  writeFileSync(join(left, '.bulkget', 'partial', 'old.bin.part'), 'x');
  const p = await new SafeDirs(left).place('sub/new.bin');
  assert.equal(p.fresh, true);
  assert.equal(p.partFresh, false);
});

test('openPart: a planted .part symlink is never written through', async (t) => {
  const { dest, outside } = sandbox(t);
  const abs = join(dest, 'file.bin');
  const part = abs + '.part';
  symlinkSync(join(outside, 'victim.txt'), part);

  assert.throws(() => openPart(part, 'append'), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ELOOP');
    return true;
  });
  outsideUnchanged(outside);

  // A fresh start replaces the link with a real file.
  const fh = openPart(part, 'truncate');
  writeSync(fh, 'new bytes');
  closeSync(fh);
  assert.ok(lstatSync(part).isFile());
  assert.equal(readFileSync(part, 'utf8'), 'new bytes');
  outsideUnchanged(outside);
});

test('openPart: a hard-linked .part is not appended to; truncate gets a new inode', async (t) => {
  const { dest, outside } = sandbox(t);
  const abs = join(dest, 'h.bin');
  const part = abs + '.part';
  linkSync(join(outside, 'victim.txt'), part);
  assert.throws(() => openPart(part, 'append'), PathError);
  const fh = openPart(part, 'truncate');
  writeSync(fh, 'mine');
  closeSync(fh);
  outsideUnchanged(outside);
});

test('openPart append, partSize, discardPart', async (t) => {
  const { dest, outside } = sandbox(t);
  const abs = join(dest, 'r.bin');
  const part = abs + '.part';
  assert.equal(partSize(part), -1);
  let fh = openPart(part, 'truncate');
  writeSync(fh, '12345');
  closeSync(fh);
  assert.equal(partSize(part), 5);
  fh = openPart(part, 'append');
  writeSync(fh, '678');
  closeSync(fh);
  assert.equal(readFileSync(part, 'utf8'), '12345678');
  assert.equal(partSize(part), 8);
  discardPart(part);
  assert.equal(partSize(part), -1);
  discardPart(part); // nothing there: fine

  // A symlinked .part counts as absent and is removed.
  symlinkSync(join(outside, 'victim.txt'), part);
  assert.equal(partSize(part), -1);
  assert.equal(existsSync(part), false);
  outsideUnchanged(outside);
});

test('commitPart replaces a symlink at the final name; fileExists', async (t) => {
  const { dest, outside } = sandbox(t);
  const abs = join(dest, 'final.txt');
  const part = abs + '.part';
  symlinkSync(join(outside, 'victim.txt'), abs);
  assert.equal(fileExists(abs), false); // a symlink is not our file

  const fh = openPart(part, 'truncate');
  writeSync(fh, 'downloaded');
  closeSync(fh);
  commitPart(part, abs);
  assert.ok(lstatSync(abs).isFile());
  assert.equal(readFileSync(abs, 'utf8'), 'downloaded');
  assert.equal(existsSync(part), false);
  assert.equal(fileExists(abs), true);
  outsideUnchanged(outside);

  // Committing under another name (Content-Disposition).
  const fh2 = openPart(part, 'truncate');
  writeSync(fh2, 'other');
  closeSync(fh2);
  commitPart(part, join(dest, 'renamed.txt'));
  assert.equal(readFileSync(join(dest, 'renamed.txt'), 'utf8'), 'other');
  assert.equal(fileExists(join(dest, 'missing')), false);
  assert.equal(fileExists(dest), false); // a folder is not a file
});

const logOf = (dest: string): string => join(dest, '.bulkget', 'state.jsonl');

test('StateStore: records survive close and reopen; newest wins; unknown is undefined', async (t) => {
  const { dest } = sandbox(t);
  let s = await StateStore.open(dest);
  s.recordDone('a.txt', 'http://h/a', { etag: '"1"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT', size: 10 });
  s.recordPart('big.iso', 'http://h/big', { etag: '"b"', size: 1000 });
  // Found before any flush of the batch (the time it was written aside).
  const { t: written, ...a } = (await s.lookup('a.txt'))!;
  assert.ok(typeof written === 'number' && Math.abs(written - Date.now()) < 60_000, 'records when it was written');
  assert.deepEqual(a, {
    p: 'a.txt',
    u: 'http://h/a',
    e: '"1"',
    m: 'Mon, 01 Jan 2024 00:00:00 GMT',
    s: 10,
    k: 'done',
  });
  // Added after the index was built: still the newest.
  s.recordDone('a.txt', 'http://h/a', { etag: '"2"', size: 11 });
  assert.equal((await s.lookup('a.txt'))?.e, '"2"');
  assert.equal(await s.lookup('nope.txt'), undefined);
  await s.close();

  s = await StateStore.open(dest);
  assert.equal((await s.lookup('a.txt'))?.e, '"2"');
  assert.equal((await s.lookup('a.txt'))?.s, 11);
  const { t: _t, ...big } = (await s.lookup('big.iso'))!;
  assert.deepEqual(big, { p: 'big.iso', u: 'http://h/big', e: '"b"', s: 1000, k: 'part' });
  assert.equal(await s.lookup('nope.txt'), undefined);
  s.recordDone('big.iso', 'http://h/big', { etag: '"b"', size: 1000 });
  s.forget('a.txt');
  await s.close();

  s = await StateStore.open(dest);
  assert.equal((await s.lookup('big.iso'))?.k, 'done');
  assert.equal(await s.lookup('a.txt'), undefined);
  await s.close();
});

test('StateStore: a torn last line is ignored and does not swallow the next record', async (t) => {
  const { dest } = sandbox(t);
  let s = await StateStore.open(dest);
  s.recordDone('ok.txt', 'http://h/ok', { etag: '"ok"', size: 1 });
  await s.close();
  appendFileSync(logOf(dest), '{"p":"torn.txt","u":"http://h/t","k":"do');

  s = await StateStore.open(dest);
  assert.equal(await s.lookup('torn.txt'), undefined);
  assert.equal((await s.lookup('ok.txt'))?.e, '"ok"');
  s.recordDone('after.txt', 'http://h/after', { size: 2 });
  await s.close();

  s = await StateStore.open(dest);
  assert.equal((await s.lookup('after.txt'))?.s, 2);
  assert.equal(await s.lookup('torn.txt'), undefined);
  await s.close();
});

test('StateStore: lookup before the first batch is flushed, across many records', async (t) => {
  const { dest } = sandbox(t);
  const s = await StateStore.open(dest);
  for (let i = 0; i < 1000; i++) s.recordDone(`f${i}`, `http://h/${i}`, { size: i });
  for (let i = 0; i < 1000; i += 97) assert.equal((await s.lookup(`f${i}`))?.s, i);
  await s.close();
});

test('StateStore: compact keeps only the newest record per live path', async (t) => {
  const { dest } = sandbox(t);
  const s = await StateStore.open(dest);
  for (let v = 0; v < 5; v++) {
    for (let i = 0; i < 10; i++) s.recordDone(`p${i}`, `http://h/${i}`, { etag: `"${v}"`, size: v });
  }
  s.forget('p9');
  await s.compact();
  const lines = readFileSync(logOf(dest), 'utf8').trim().split('\n');
  assert.equal(lines.length, 9);
  for (const l of lines) assert.equal(JSON.parse(l).e, '"4"');
  for (let i = 0; i < 9; i++) assert.equal((await s.lookup(`p${i}`))?.e, '"4"');
  assert.equal(await s.lookup('p9'), undefined);
  // Writing goes on in the new file.
  s.recordDone('p0', 'http://h/0', { etag: '"5"', size: 5 });
  assert.equal((await s.lookup('p0'))?.e, '"5"');
  await s.close();
  const s2 = await StateStore.open(dest);
  assert.equal((await s2.lookup('p0'))?.e, '"5"');
  assert.equal((await s2.lookup('p3'))?.e, '"4"');
  await s2.close();
});

test('StateStore: close compacts a log that is mostly stale, once a later run opens it', async (t) => {
  const { dest } = sandbox(t);
  let s = await StateStore.open(dest);
  for (let v = 0; v < 120; v++) {
    for (let i = 0; i < 1000; i++) s.recordDone(`d/${i}.bin`, `http://h/${i}`, { etag: `"${v}"`, size: v });
  }
  await s.close();
  // A log this run began is left as written: a real run cannot make it mostly stale, and
  // checking would scan the whole log at the end of a million-file run.
  assert.equal(readFileSync(logOf(dest), 'utf8').trim().split('\n').length, 120_000);

  s = await StateStore.open(dest);
  s.recordDone('d/0.bin', 'http://h/0', { etag: '"120"', size: 120 });
  await s.close();
  const lines = readFileSync(logOf(dest), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1000);
  s = await StateStore.open(dest);
  assert.equal((await s.lookup('d/999.bin'))?.e, '"119"');
  assert.equal((await s.lookup('d/0.bin'))?.e, '"120"');
  await s.close();
});

test('lock: a second acquire fails with the pid; release removes the lock', async (t) => {
  const { dest } = sandbox(t);
  const lock = await acquireLock(dest, 'my-dest');
  const lockFile = join(dest, '.bulkget', 'lock');
  const rec = await readLockRecord(lockFile);
  assert.equal(rec?.pid, process.pid);
  assert.equal(rec?.host, hostname());
  await assert.rejects(acquireLock(dest, 'my-dest'), (err: unknown) => {
    assert.ok(err instanceof LockBusyError);
    assert.equal(err.pid, process.pid);
    assert.equal(err.message, `my-dest is in use by bulkget pid ${process.pid} on ${hostname()}`);
    return true;
  });
  lock.release();
  assert.equal(existsSync(lockFile), false);
  lock.release(); // twice is harmless
  const again = await acquireLock(dest, 'my-dest');
  again.release();
  assert.deepEqual(readdirSync(join(dest, '.bulkget')), [], 'no lock and no socket left');
});

test('lock: a lock left by a dead process, an empty or a garbage lock is taken over', async (t) => {
  const { dest } = sandbox(t);
  const child = spawn(process.execPath, ['-e', '']);
  const deadPid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  const lockFile = join(dest, '.bulkget', 'lock');
  mkdirSync(join(dest, '.bulkget'), { recursive: true });

  for (const content of [`${deadPid}\n`, '', 'garbage', '-5']) {
    writeFileSync(lockFile, content);
    const lock = await acquireLock(dest, dest);
    assert.equal((await readLockRecord(lockFile))?.pid, process.pid, JSON.stringify(content));
    lock.release();
    assert.equal(existsSync(lockFile), false);
  }
});

test('lock: release leaves a lock that is not ours', async (t) => {
  const { dest } = sandbox(t);
  const lock = await acquireLock(dest, dest);
  const lockFile = join(dest, '.bulkget', 'lock');
  writeFileSync(lockFile, '1\n');
  lock.release();
  assert.equal(readFileSync(lockFile, 'utf8'), '1\n');
  // pid 1 is alive (init): busy.
  await assert.rejects(acquireLock(dest, dest), LockBusyError);
});

test('lock: runs racing for a stale lock: exactly one wins', async (t) => {
  const { dest } = sandbox(t);
  mkdirSync(join(dest, '.bulkget'));
  writeFileSync(join(dest, '.bulkget', 'lock'), 'stale\n');
  const script = `
    const { acquireLock } = await import(process.argv[1]);
    try {
      const lock = await acquireLock(process.argv[2], 'D');
      process.stdout.write('won');
      // Hold the lock until the test has heard from every run (it then closes our stdin).
      process.stdin.resume();
      await new Promise((r) => process.stdin.on('end', r));
      lock.release();
    } catch (err) {
      process.stdout.write(err.name);
    }`;
  const lockModule = new URL('../src/store/lock.ts', import.meta.url).pathname;
  // Ten at once: with five, moving the lock aside and back let two win about one time in twenty.
  const children = Array.from({ length: 10 }, () =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, lockModule, dest]),
  );
  const answers = children.map(
    (child) => new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString()))),
  );
  const exits = children.map((child) => new Promise((resolve) => child.on('exit', resolve)));
  const results = (await Promise.all(answers)).sort();
  for (const child of children) child.stdin.end();
  await Promise.all(exits);
  assert.deepEqual(results, [...Array<string>(9).fill('LockBusyError'), 'won']);
  assert.equal(existsSync(join(dest, '.bulkget', 'lock')), false);
});

test('the state log keeps a 64 KiB reserve beside it while open: incompressible, never written through a link, gone at close', async (t) => {
  const { dest, outside } = sandbox(t);
  const real = prepareDest(dest);
  const own = join(real, '.bulkget');
  // A hard link planted where the reserve goes: the file it names must keep its bytes.
  linkSync(join(outside, 'victim.txt'), join(own, 'state.jsonl.reserve'));
  const store = await StateStore.open(real);
  const reserve = readFileSync(join(own, 'state.jsonl.reserve'));
  assert.equal(reserve.length, 64 * 1024);
  assert.ok(gzipSync(reserve).length > 60 * 1024, 'a compressing file system could not store it in less');
  outsideUnchanged(outside);
  store.recordDone('a.bin', 'http://h/a.bin', { size: 1 });
  await store.close();
  assert.deepEqual(readdirSync(own).filter((n) => n.includes('reserve')), []);
  assert.match(readFileSync(join(own, 'state.jsonl'), 'utf8'), /"p":"a\.bin"/);
});

test('a reserve made ahead (a --jobs run makes its jobs\' before they start) is the one the log keeps, not made again; a wrong-sized one is replaced', async (t) => {
  const { dest } = sandbox(t);
  const real = prepareDest(dest);
  const own = join(real, '.bulkget');
  assert.equal(await StateStore.reserveAhead(real, 'job-2'), true);
  const file = join(own, 'state-job-2.jsonl.reserve');
  // Marked in place, so that a reserve written again would show.
  writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a));
  const store = await StateStore.open(real, 'job-2');
  assert.ok(readFileSync(file).equals(Buffer.alloc(64 * 1024, 0x5a)), 'kept as it was');
  await store.close();
  assert.equal(existsSync(file), false, 'gone at close');
  // A leftover of another size (a run killed while it wrote it) is no reserve: written anew.
  writeFileSync(file, 'short');
  const again = await StateStore.open(real, 'job-2');
  assert.equal(readFileSync(file).length, 64 * 1024);
  await again.close();
});

test('SafeDirs.place: downloads reaching a new folder together wait for one check of it; a failed check is each one\'s own', async (t) => {
  const { dest, outside } = sandbox(t);
  const dirs = new SafeDirs(dest);
  const places = await Promise.all(Array.from({ length: 200 }, (_, i) => dirs.place(`sub/deeper/f${i}.bin`)));
  assert.equal(dirs.folderChecks, 2, 'sub and sub/deeper, once each');
  assert.ok(places.every((p) => p.fresh), 'made by this run: fresh for all');
  assert.equal(places[199]!.abs, join(dest, 'sub', 'deeper', 'f199.bin'));
  // A folder that is a link out of DEST: every download is refused, naming its own path.
  symlinkSync(outside, join(dest, 'evil'));
  const refused = await Promise.allSettled([dirs.place('evil/a.bin'), dirs.place('evil/b.bin')]);
  assert.deepEqual(
    refused.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'placed')),
    ['path escapes DEST through a symlink: evil/a.bin', 'path escapes DEST through a symlink: evil/b.bin'],
  );
  outsideUnchanged(outside);
});
