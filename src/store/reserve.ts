// Room kept on the disk for the state log's last records. A run that fills the disk stops, and the
// .part files it leaves are worth something only with their validators in the log (see state.ts):
// by then no append fits. A file of RESERVE_BYTES beside the log is written when the log opens and
// deleted, to make that room, once the transfers have stopped writing (deleting it earlier would
// only let a body write take the space first).

import { constants, unlinkSync } from 'node:fs';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';

// The records of a few hundred transfers in flight: a line measured 152-165 bytes with URLs of
// ~40 characters (longer URLs, longer lines).
const RESERVE_BYTES = 64 * 1024;

export class Reserve {
  private constructor(private path: string | null) {}

  /**
   * Writes the file (one a killed run left is replaced); null when it does not fit. A file made
   * for this log already (a --jobs run makes its jobs' before they start, see jobs.ts) is kept
   * as it is: a plain file of ours, of this size, with no other name (never a planted link).
   */
  static async make(path: string): Promise<Reserve | null> {
    if (await madeAlready(path)) return new Reserve(path);
    let fh: FileHandle | undefined;
    try {
      // A new file, never one truncated in place: the name might be a link to another file.
      await unlink(path).catch(() => undefined);
      fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
      const { bytesWritten } = await fh.write(noise(), 0, RESERVE_BYTES, 0);
      await fh.close();
      if (bytesWritten === RESERVE_BYTES) return new Reserve(path);
    } catch {
      await fh?.close().catch(() => undefined);
    }
    // No room (the disk is full already) or not ours to write: the log goes without.
    await unlink(path).catch(() => undefined);
    return null;
  }

  /** Deletes the file, freeing its room; false when it was released before. */
  release(): boolean {
    if (this.path === null) return false;
    try {
      unlinkSync(this.path);
    } catch {
      // removed by hand meanwhile: nothing freed, but the caller's write is worth a try
    }
    this.path = null;
    return true;
  }
}

async function madeAlready(path: string): Promise<boolean> {
  try {
    const st = await lstat(path);
    const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
    return st.isFile() && st.nlink === 1 && st.uid === uid && st.size === RESERVE_BYTES;
  } catch {
    return false;
  }
}

/**
 * RESERVE_BYTES that a compressing file system (btrfs, ZFS) cannot store in less: xorshift32
 * output. (Not node:crypto, whose loading a one-URL run would pay for.)
 */
function noise(): Buffer {
  const words = new Uint32Array(RESERVE_BYTES / 4);
  let x = (Date.now() ^ (process.pid << 16)) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer);
}
