// One run per DEST: overlapping cron jobs must not write the same files and state log at once.
// The lock is a file holding the owner's pid; a lock whose owner is gone is taken over silently.

import { constants, readFileSync, unlinkSync } from 'node:fs';
import { link, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export class LockBusyError extends Error {
  override name = 'LockBusyError';
  constructor(
    readonly dest: string,
    readonly pid: number,
  ) {
    super(`${dest} is in use by bulkget pid ${pid}`);
  }
}

export interface Lock {
  /** Synchronous, so it can run from an exit handler; harmless to call twice. */
  release(): void;
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const ATTEMPTS = 5;

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else -- still a live owner.
    return codeOf(err) === 'EPERM';
  }
}

/** The lock's content, '' when it is empty or unreadable (a symlink, a folder). */
async function readLock(path: string): Promise<string | undefined> {
  try {
    const fh = await open(path, constants.O_RDONLY | O_NOFOLLOW);
    try {
      return await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    return '';
  }
}

function pidOf(content: string): number {
  const t = content.trim();
  return /^[1-9][0-9]{0,9}$/.test(t) ? Number(t) : 0;
}

/**
 * Creates the lock with our pid in it, all at once: the content is written to a private file that
 * is then hard-linked to the lock name (link fails if the name exists, like O_EXCL), so no other
 * run ever sees a lock that is empty because it is still being written. Where hard links are not
 * supported, O_EXCL plus a write is the fallback.
 */
async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  const tmp = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o644);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, lockPath);
    return true;
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS'].includes(codeOf(err) ?? '')) throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  try {
    const lf = await open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o644);
    try {
      await lf.writeFile(content);
    } finally {
      await lf.close();
    }
    return true;
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Removes a stale lock, but only the one we judged stale: it is first renamed to a private name
 * (atomic, so only one of several racing runs gets it) and its content compared. If a live run
 * replaced it in the meantime, its lock is put back and we report that nothing was removed.
 */
async function removeStale(lockPath: string, seen: string): Promise<boolean> {
  const aside = `${lockPath}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return true; // someone else removed it: just try again
    throw err;
  }
  const got = await readLock(aside);
  if (got === seen) {
    await unlink(aside).catch(() => undefined);
    return true;
  }
  // Not the file we judged: a live run's lock. Put it back unless yet another lock appeared.
  try {
    await link(aside, lockPath);
  } catch {
    // leave it: the lock name is taken again either way
  }
  await unlink(aside).catch(() => undefined);
  return false;
}

/** Takes DEST's lock or throws LockBusyError naming the run that holds it. */
export async function acquireLock(destReal: string, destShown: string): Promise<Lock> {
  const dir = join(destReal, '.bulkget');
  await mkdir(dir, { recursive: true });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${join(destShown, '.bulkget')} is not a folder`);
  const lockPath = join(dir, 'lock');
  const mine = `${process.pid}\n`;

  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (await tryCreate(lockPath, mine)) return makeLock(lockPath, mine);
    const content = await readLock(lockPath);
    if (content === undefined) continue; // released just now
    const pid = pidOf(content);
    // Our own pid counts as alive: a second acquire in the same process must not steal it.
    if (pid > 0 && (pid === process.pid || alive(pid))) throw new LockBusyError(destShown, pid);
    // Dead owner, empty or garbage: stale. (Our own locks are never empty: see tryCreate.)
    await removeStale(lockPath, content);
  }
  // Still contended after several rounds: some other run keeps winning the race.
  const pid = pidOf((await readLock(lockPath)) ?? '');
  throw new LockBusyError(destShown, pid);
}

function makeLock(lockPath: string, mine: string): Lock {
  let released = false;
  return {
    release(): void {
      if (released) return;
      released = true;
      try {
        // Only our own lock: if it was (wrongly) taken over, the new owner's file stays.
        if (readFileSync(lockPath, 'utf8') !== mine) return;
        unlinkSync(lockPath);
      } catch {
        // ENOENT: already gone. Anything else: an exit handler must not throw, and a lock left
        // behind by a process that is gone is taken over by the next run anyway.
      }
    },
  };
}
