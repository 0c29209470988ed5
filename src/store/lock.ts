// One run per DEST at a time: overlapping cron jobs must not write the same files and state log.
//
// A bare pid is not enough (it was once): in a container bulkget is often pid 1 or 2, so after a
// kill -9 every rerun found "pid 2" alive; a run in another PID namespace took a live lock for a
// dead one; a reused pid blocked for ever. So the lock records who holds it and proves liveness
// three ways, the strongest that applies:
//
// - Same kernel (same boot id): the holder listens on a Unix socket beside the lock. Connecting
//   works across PID and mount namespaces; when the holder dies, for whatever reason, the kernel
//   closes the socket and the next run's connect is refused at once.
// - Same kernel, no socket (a path too long for one, a file system without them): the holder's
//   pid and process start time, when the checker shares its PID namespace.
// - Another host sharing DEST (NFS, a Kubernetes volume): a lease. The holder touches the lock
//   every RENEW_MS; a lock not touched for STALE_MS is taken over.
//
// Why not proper-lockfile: it has only the lease, so a rerun right after a kill -9 waits out the
// stale time (and exits 2 in a cron job), and it records no owner to name in the message.

import { closeSync, constants, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { uniqueHex } from '../unique.js';
import type net from 'node:net';
import { join } from 'node:path';
import { SetupError } from '../errors.js';
import { isAlive, listen, parseRecord, whoAmI, type LockRecord } from './lock-owner.js';

export class LockBusyError extends SetupError {
  constructor(
    readonly dest: string,
    readonly pid: number,
    readonly host: string,
  ) {
    super(`${dest} is in use by bulkget pid ${pid} on ${host}`);
  }
}

export interface Lock {
  /** Synchronous, so it can run from an exit handler; harmless to call twice. */
  release(): void;
}

interface LockOptions {
  /** How often the holder touches the lock (ms). */
  renewMs?: number;
  /** A lock not touched for this long, held from another host, is taken over (ms). */
  staleMs?: number;
  /**
   * `--shard K/N`: runs of the shards of one split share DEST, each under its own lock
   * (`lock-shard-K-of-N`); a run without a shard (`lock`) excludes them all, and shards of
   * another N are excluded too (their items overlap).
   */
  shard?: { k: number; n: number };
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const ATTEMPTS = 5;
const RENEW_MS = 5_000;
const STALE_MS = 30_000;

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/**
 * Creates the lock with our record in it, all at once: written to a private file that is then
 * hard-linked to the lock name (link fails if the name exists, like O_EXCL), so no other run ever
 * sees a half-written lock. Where hard links are not supported, O_EXCL plus a write.
 */
function tryCreate(lockPath: string, content: string): boolean {
  // Synchronous, like prepareDest (dest.ts says what that saves): a run that finds no lock takes
  // it without a trip through the thread pool.
  const tmp = `${lockPath}.${process.pid}.${uniqueHex(12)}`;
  writeNew(tmp, content);
  try {
    linkSync(tmp, lockPath);
    return true;
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS'].includes(codeOf(err) ?? '')) throw err;
  } finally {
    unlinkQuiet(tmp);
  }
  try {
    writeNew(lockPath, content);
    return true;
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return false;
    throw err;
  }
}

/** A new file (never an existing one, never through a symlink) holding `content`. */
function writeNew(path: string, content: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o644);
  try {
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

async function readLock(path: string): Promise<{ text: string; touched: number } | undefined> {
  try {
    const fh = await open(path, constants.O_RDONLY | O_NOFOLLOW);
    try {
      const st = await fh.stat();
      return { text: await fh.readFile('utf8'), touched: st.mtimeMs };
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    return { text: '', touched: 0 }; // a symlink, a folder: not a lock of ours
  }
}

// A run that died while judging a stale lock leaves its guard; a judgement takes milliseconds.
const GUARD_STALE_MS = 10_000;

/**
 * Removes a stale lock, but only the one judged stale. One run at a time judges: it holds a guard
 * file (created like the lock, all or nothing) while it reads the lock again and removes it only if
 * it still holds what was judged stale. Moving the lock aside first and putting back a live one
 * (as before) left the name free for a moment: with five runs racing for a stale lock, a third one
 * took it in that moment and two runs went on (seen on Node 24 under load).
 */
async function removeStale(lockPath: string, seen: string, dir: string): Promise<void> {
  const guard = `${lockPath}.takeover`;
  if (!tryCreate(guard, `${process.pid}\n`)) {
    // Another run is judging it (or died at it, long ago): look again shortly.
    const st = lstatSync(guard, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) unlinkQuiet(guard);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return;
  }
  try {
    const now = await readLock(lockPath);
    if (now?.text !== seen) return; // released, or taken by a live run meanwhile
    await unlink(lockPath).catch(() => undefined);
    // Its socket file is left over too (the kernel closed the socket, not the file).
    const rec = parseRecord(seen);
    if (rec?.sock && /^lock-[0-9a-f]+\.sock$/.test(rec.sock)) await unlink(join(dir, rec.sock)).catch(() => undefined);
  } finally {
    unlinkQuiet(guard);
  }
}

/** Takes DEST's lock or throws LockBusyError naming the run (and host) that holds it. */
export async function acquireLock(destReal: string, destShown: string, o: LockOptions = {}): Promise<Lock> {
  const dir = join(destReal, '.bulkget');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${join(destShown, '.bulkget')} is not a folder`);
  const lockPath = join(dir, o.shard ? `lock-shard-${o.shard.k}-of-${o.shard.n}` : 'lock');
  const staleMs = o.staleMs ?? STALE_MS;
  const me = whoAmI();
  const token = uniqueHex(16);
  const listener = await listen(dir, token);
  const record: LockRecord = { ...me, sock: listener?.name ?? '', token };
  const content = JSON.stringify(record) + '\n';
  const giveUp = () => {
    listener?.server.close();
    if (listener) unlinkQuiet(join(dir, listener.name));
  };

  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (tryCreate(lockPath, content)) {
        const lock = holdLock(lockPath, content, listener, dir, o.renewMs ?? RENEW_MS);
        // Ours now; a run of another kind on this DEST (unsharded against sharded, or another N)
        // must not be under way too. Both sides look after taking their own: one of two that start
        // at once may give up needlessly, but never both go on.
        const other = await liveConflict(dir, o.shard, me, staleMs);
        if (other) {
          lock.release();
          throw new LockBusyError(destShown, other.pid, other.host);
        }
        return lock;
      }
      const seen = await readLock(lockPath);
      if (seen === undefined) continue; // released just now
      const { alive, rec } = await isAlive(seen.text, seen.touched, dir, me, staleMs);
      if (alive) throw new LockBusyError(destShown, rec?.pid ?? 0, rec?.host ?? 'unknown host');
      await removeStale(lockPath, seen.text, dir);
    }
    // Still contended after several rounds: some other run keeps winning the race.
    const rec = parseRecord((await readLock(lockPath))?.text ?? '');
    throw new LockBusyError(destShown, rec?.pid ?? 0, rec?.host ?? 'unknown host');
  } catch (err) {
    giveUp();
    throw err;
  }
}

const SHARD_LOCK = /^lock-shard-(\d+)-of-(\d+)$/;

/** A live lock on DEST that this run's kind cannot share, if any. */
async function liveConflict(dir: string, shard: LockOptions['shard'], me: ReturnType<typeof whoAmI>, staleMs: number): Promise<LockRecord | undefined> {
  const names = readdirSync(dir).filter((n) => {
    if (n === 'lock') return shard !== undefined;
    const m = SHARD_LOCK.exec(n);
    return m !== null && (shard === undefined || Number(m[2]) !== shard.n);
  });
  for (const name of names) {
    const seen = await readLock(join(dir, name));
    if (!seen) continue;
    const { alive, rec } = await isAlive(seen.text, seen.touched, dir, me, staleMs);
    if (alive) return rec ?? { pid: 0, host: 'unknown host', boot: '', ns: '', start: '', sock: '', token: '' };
  }
  return undefined;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

function holdLock(lockPath: string, mine: string, listener: { server: net.Server; name: string } | undefined, dir: string, renewMs: number): Lock {
  // The lease: touched while held, for runs on other hosts that cannot see our socket.
  const renew = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(lockPath, now, now);
    } catch {
      // A lock we cannot touch ends up taken over by another host; nothing to do from here.
    }
  }, renewMs);
  renew.unref();
  let released = false;
  return {
    release(): void {
      if (released) return;
      released = true;
      clearInterval(renew);
      try {
        // Only our own lock: if it was (wrongly) taken over, the new owner's file stays.
        if (readFileSync(lockPath, 'utf8') === mine) unlinkSync(lockPath);
      } catch {
        // ENOENT: already gone. Anything else: an exit handler must not throw, and a lock left
        // behind by a process that is gone is taken over by the next run anyway.
      }
      if (listener) {
        listener.server.close();
        unlinkQuiet(join(dir, listener.name));
      }
    },
  };
}

/** For tests and diagnostics: the record in a lock file, if it is one of ours. */
export async function readLockRecord(lockPath: string): Promise<LockRecord | undefined> {
  const got = await readLock(lockPath);
  return got ? parseRecord(got.text) : undefined;
}
