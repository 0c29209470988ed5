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

import { constants, readFileSync, unlinkSync, utimesSync } from 'node:fs';
import { link, lstat, mkdir, open, readFile, readlink, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { SetupError } from '../errors.js';

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

/** What a lock file holds. */
export interface LockRecord {
  pid: number;
  host: string;
  /** The kernel's boot id (Linux), or host name and boot time elsewhere. */
  boot: string;
  /** The PID namespace (`pid:[4026531836]`), '' where there is none. */
  ns: string;
  /** The process's start time in clock ticks since boot (Linux /proc), '' elsewhere. */
  start: string;
  /** The socket beside the lock the holder listens on, relative to the lock's folder; '' if none. */
  sock: string;
  token: string;
}

export interface LockOptions {
  /** How often the holder touches the lock (ms). */
  renewMs?: number;
  /** A lock not touched for this long, held from another host, is taken over (ms). */
  staleMs?: number;
  /** The lock's file name in DEST/.bulkget (one per shard later). */
  name?: string;
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const ATTEMPTS = 5;
const RENEW_MS = 5_000;
const STALE_MS = 30_000;
// sun_path is 108 bytes on Linux (104 on macOS); longer paths cannot be bound.
const MAX_SOCKET_PATH = 100;

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** This process as a lock records it. */
async function whoAmI(): Promise<Omit<LockRecord, 'sock' | 'token'>> {
  let boot = '';
  let ns = '';
  let start = '';
  try {
    boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    ns = await readlink('/proc/self/ns/pid');
    start = startTimeOf(await readFile('/proc/self/stat', 'utf8'));
  } catch {
    // Not Linux: the host's name and the minute it booted stand for the kernel.
    boot ||= `${os.hostname()}@${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
  return { pid: process.pid, host: os.hostname(), boot, ns, start };
}

/** Field 22 of /proc/PID/stat (after the parenthesised command, which may hold spaces). */
function startTimeOf(stat: string): string {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? '';
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const r = JSON.parse(text) as LockRecord;
    if (r && Number.isSafeInteger(r.pid) && typeof r.token === 'string') return r;
  } catch {
    // an older bulkget's bare pid, or garbage: see isAlive
  }
  return undefined;
}

/** Resolves true when something accepts a connection on the socket, false when refused. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ path });
    const done = (alive: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(alive);
    };
    // A connect that neither succeeds nor fails: something is there; do not steal its lock.
    const timer = setTimeout(() => done(true), 2000);
    sock.once('connect', () => done(true));
    sock.once('error', (err) => done(!['ECONNREFUSED', 'ENOENT', 'ENOTSOCK'].includes(codeOf(err) ?? '')));
  });
}

async function pidAlive(pid: number, start: string): Promise<boolean> {
  if (start !== '') {
    try {
      return startTimeOf(await readFile(`/proc/${pid}/stat`, 'utf8')) === start;
    } catch {
      return false; // no such process
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return codeOf(err) === 'EPERM'; // alive, someone else's
  }
}

/** Whether the lock described by `text` (mtime `touched`) still has a live holder. */
async function isAlive(text: string, touched: number, dir: string, me: Omit<LockRecord, 'sock' | 'token'>, staleMs: number): Promise<{ alive: boolean; rec?: LockRecord }> {
  const rec = parseRecord(text);
  if (!rec) {
    // An older bulkget's lock holds a bare pid: judged as it judged, on this host only.
    const m = /^([1-9][0-9]{0,9})\n?$/.exec(text);
    if (!m) return { alive: false };
    const pid = Number(m[1]);
    return { alive: pid === process.pid || (await pidAlive(pid, '')), rec: { pid, host: os.hostname(), boot: '', ns: '', start: '', sock: '', token: '' } };
  }
  if (rec.boot !== '' && rec.boot === me.boot) {
    if (rec.sock !== '') return { alive: await socketAnswers(join(dir, rec.sock)), rec };
    if (rec.ns !== '' && rec.ns === me.ns) return { alive: await pidAlive(rec.pid, rec.start), rec };
  }
  // Another host (or no way to look): alive while its holder keeps touching it.
  return { alive: Date.now() - touched < staleMs, rec };
}

/** Starts listening on a fresh socket in `dir`; undefined where that is not possible. */
async function listen(dir: string, token: string): Promise<{ server: net.Server; name: string } | undefined> {
  const name = `lock-${token}.sock`;
  const path = join(dir, name);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH || process.platform === 'win32') return undefined;
  const server = net.createServer((c) => c.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } catch {
    server.close();
    return undefined;
  }
  server.unref(); // never what keeps the process alive
  return { server, name };
}

/**
 * Creates the lock with our record in it, all at once: written to a private file that is then
 * hard-linked to the lock name (link fails if the name exists, like O_EXCL), so no other run ever
 * sees a half-written lock. Where hard links are not supported, O_EXCL plus a write.
 */
async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  const tmp = `${lockPath}.${process.pid}.${randomBytes(6).toString('hex')}`;
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

/**
 * Removes a stale lock, but only the one judged stale: it is first renamed to a private name
 * (atomic, so only one of several racing runs gets it) and its content compared. If a live run
 * replaced it meanwhile, its lock is put back.
 */
async function removeStale(lockPath: string, seen: string, dir: string): Promise<void> {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return; // someone else removed it: just try again
    throw err;
  }
  const got = await readLock(aside);
  if (got?.text === seen) {
    await unlink(aside).catch(() => undefined);
    // Its socket file is left over too (the kernel closed the socket, not the file).
    const rec = parseRecord(seen);
    if (rec?.sock && /^lock-[0-9a-f]+\.sock$/.test(rec.sock)) await unlink(join(dir, rec.sock)).catch(() => undefined);
    return;
  }
  try {
    await link(aside, lockPath);
  } catch {
    // the lock name is taken again either way
  }
  await unlink(aside).catch(() => undefined);
}

/** Takes DEST's lock or throws LockBusyError naming the run (and host) that holds it. */
export async function acquireLock(destReal: string, destShown: string, o: LockOptions = {}): Promise<Lock> {
  const dir = join(destReal, '.bulkget');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${join(destShown, '.bulkget')} is not a folder`);
  const lockPath = join(dir, o.name ?? 'lock');
  const staleMs = o.staleMs ?? STALE_MS;
  const me = await whoAmI();
  const token = randomBytes(8).toString('hex');
  const listener = await listen(dir, token);
  const record: LockRecord = { ...me, sock: listener?.name ?? '', token };
  const content = JSON.stringify(record) + '\n';
  const giveUp = () => {
    listener?.server.close();
    if (listener) unlinkQuiet(join(dir, listener.name));
  };

  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (await tryCreate(lockPath, content)) return holdLock(lockPath, content, listener, dir, o.renewMs ?? RENEW_MS);
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
