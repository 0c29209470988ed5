// Who holds a DEST lock, and whether they are still alive (see lock.ts for why three ways).

import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

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

// sun_path is 108 bytes on Linux (104 on macOS); longer paths cannot be bound.
const MAX_SOCKET_PATH = 100;

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

type Me = Omit<LockRecord, 'sock' | 'token'>;

/** This process as a lock records it (three small files of /proc, read synchronously). */
export function whoAmI(): Me {
  let boot = '';
  let ns = '';
  let start = '';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    ns = readlinkSync('/proc/self/ns/pid');
    start = startTimeOf(readFileSync('/proc/self/stat', 'utf8'));
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

export function parseRecord(text: string): LockRecord | undefined {
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
export async function isAlive(text: string, touched: number, dir: string, me: Me, staleMs: number): Promise<{ alive: boolean; rec?: LockRecord }> {
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
export async function listen(dir: string, token: string): Promise<{ server: net.Server; name: string } | undefined> {
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
