// DEST and the folders in it: created, checked, and never followed out of DEST through a planted
// symlink. Names are already sanitised (naming/); what is left is the file system itself.

import { chmodSync, closeSync, constants, lstatSync, mkdirSync, opendirSync, openSync, realpathSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { SetupError, describeError, isDiskFull } from '../errors.js';
import { partialName } from '../naming/names.js';
import { PathError } from './files.js';

/** DEST cannot be created or written: the run cannot start (exit 2). */
export class DestError extends SetupError {}

// O_NOFOLLOW does not exist on Windows; there, planting symlinks needs privileges anyway.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function codeOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}

/**
 * Creates DEST when missing, proves it writable, and returns its real path.
 *
 * Synchronous, as is the lock's uncontended path (lock.ts): a dozen calls on local metadata,
 * ~0.4 ms in all, where the same calls through node:fs/promises took 4-9 ms of a one-URL run
 * (each its own trip through the thread pool and the event loop, and code Node compiles on
 * first use under the shebang's flags; Node 20.20, 10 instrumented runs).
 */
export function prepareDest(dest: string): string {
  try {
    mkdirParents(dest);
    const real = realpathSync(dest);
    const own = join(real, '.bulkget');
    mkdirQuiet(own);
    // Lock and state are written in here: a symlink would carry them out of DEST.
    const st = checkOwnDir(own);
    // Private: it records which URLs were fetched, and DEST is often a web-served folder. A
    // folder of another user's that we may write in anyway stays as it is.
    if ((st.mode & 0o777) !== 0o700) {
      try {
        chmodSync(own, 0o700);
      } catch (err) {
        if (codeOf(err) !== 'EPERM') throw err;
      }
    }
    mkdirQuiet(join(own, PARTIAL_DIR));
    checkOwnDir(join(own, PARTIAL_DIR));
    // mkdir succeeds on a read-only mount when the folder already exists: only a write proves it.
    const probe = join(own, `probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const fd = openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o644);
    try {
      writeSync(fd, 'ok\n');
    } finally {
      closeSync(fd);
      // Also when the write failed (a full disk): no probe is left behind.
      unlinkSync(probe);
    }
    return real;
  } catch (err) {
    // The cause stays: a full disk is told apart from a folder we may not write in.
    const why = isDiskFull(err) ? `${describeError(err)} (${codeOf(err)})` : codeOf(err);
    throw Object.assign(new DestError(`cannot write to DEST ${dest}: ${why}`), { cause: err });
  }
}

/** Partial files live in DEST/.bulkget/partial: a folder no item can name (see naming.ts). */
const PARTIAL_DIR = 'partial';

function mkdirQuiet(dir: string): void {
  try {
    mkdirSync(dir, 0o700);
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') throw err;
  }
}

/** A folder of our own records: a symlink there would carry our writes out of DEST. */
function checkOwnDir(dir: string): Stats {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) throw Object.assign(new Error('symlink'), { code: 'ELOOP' });
  if (!st.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  return st;
}

/**
 * mkdir -p, one level at a time. Node's own `mkdir(..., { recursive: true })` spins forever on
 * some pseudo file systems (seen with DEST under /proc on Node 20), turning a bad --dest into a
 * hung process instead of a one-line error.
 */
function mkdirParents(dir: string): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  for (;;) {
    try {
      statSync(cur);
      break;
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw err;
      missing.push(cur);
      const up = dirname(cur);
      if (up === cur) break;
      cur = up;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!);
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') throw err;
    }
  }
}

const VERIFIED_CAP = 10_000;

/** Where a file goes, its partial file, and what may already be there. */
export interface Placement {
  /** The final path. */
  abs: string;
  /** The partial file: DEST/.bulkget/partial/NAME, never a name an item may own. */
  part: string;
  /**
   * The folder held none of the user's files when this run first saw it (it was empty, or this
   * run created it), so a name this run has not written is absent: no lstat of the file is
   * needed. Only for an item's first attempt; a retry looks at what the failed one left.
   */
  fresh: boolean;
  /** The partial folder was empty when this run began: no partial to resume, no lstat needed. */
  partFresh: boolean;
}

/** Creates and checks the folders under DEST, refusing any that is a symlink or a file. */
export class SafeDirs {
  // Folders already known to be real folders: with the flat layout every file shares DEST
  // itself, so after the first file no folder costs a syscall. Cleared when full, which only
  // costs a few lstat calls again (and loses freshness, which is only an optimisation).
  private readonly verified = new Map<string, boolean>();
  // Checks under way: the downloads that reach a new folder together wait for one check (a list
  // going into `r1/` had every item started meanwhile check the folder again: 4,667 checks of 4
  // folders in a 40,000-file run).
  private readonly checking = new Map<string, Promise<boolean>>();
  /** Folder checks made (lstat, and a look inside): for the tests. */
  folderChecks = 0;
  private destFresh: boolean | undefined;
  private partFresh: boolean | undefined;
  private readonly partDir: string;

  constructor(private readonly destReal: string) {
    this.partDir = join(destReal, '.bulkget', PARTIAL_DIR);
  }

  /** The absolute path for `rel` ('/'-separated, sanitised), its parent folders ready. */
  async ensureParent(rel: string): Promise<string> {
    return (await this.place(rel)).abs;
  }

  /** As ensureParent, with the partial file and what may exist (see Placement). */
  async place(rel: string): Promise<Placement> {
    const segs = this.segments(rel);
    for (;;) {
      const w = this.walk(segs);
      if (typeof w !== 'string') return this.placement(rel, this.child(w.dir, segs[segs.length - 1]!), w.fresh);
      // The first folder on the way not verified yet: checked (or made), then walked again. One
      // that another download is checking: its answer, unless that failed (then checked here,
      // so that the error names this path).
      const pending = this.checking.get(w);
      if (pending && (await pending.then(() => true, () => false))) continue;
      const check = this.verifyDir(w, rel);
      this.checking.set(w, check);
      let known: boolean;
      try {
        known = await check;
      } finally {
        if (this.checking.get(w) === check) this.checking.delete(w);
      }
      if (this.verified.size >= VERIFIED_CAP) this.verified.clear();
      this.verified.set(w, known);
    }
  }

  /**
   * place() without a promise, when no folder on the way needs a system call: a file directly
   * in DEST (the flat layout of most bulk lists), or in folders already verified. Undefined
   * otherwise; a path place() would refuse throws the same error here.
   */
  placeKnown(rel: string): Placement | undefined {
    if (!rel.includes('/')) {
      this.check(rel, rel);
      this.checkFirst(rel, rel);
      this.lookFresh();
      return this.placement(rel, this.child(this.destReal, rel), this.destFresh!);
    }
    const segs = this.segments(rel);
    const w = this.walk(segs);
    return typeof w === 'string' ? undefined : this.placement(rel, this.child(w.dir, segs[segs.length - 1]!), w.fresh);
  }

  /**
   * The folders of `segs` (all but the last) through the verified ones: the file's folder and
   * whether it is fresh, or the first folder on the way not verified yet.
   */
  private walk(segs: string[]): { dir: string; fresh: boolean } | string {
    let dir = this.destReal;
    let fresh = this.destFresh!;
    for (let i = 0; i < segs.length - 1; i++) {
      dir = this.child(dir, segs[i]!);
      const known = this.verified.get(dir);
      if (known === undefined) return dir;
      fresh = known;
    }
    return { dir, fresh };
  }

  private placement(rel: string, abs: string, fresh: boolean): Placement {
    return {
      abs,
      // A plain concatenation: partDir is absolute and normalised, a partial name holds no '/'.
      part: this.partDir + sep + partialName(rel),
      fresh,
      partFresh: this.partFresh!,
    };
  }

  /** `rel` split into checked segments; freshness looked up on first use. */
  private segments(rel: string): string[] {
    const segs = rel.split('/');
    for (const s of segs) this.check(s, rel);
    this.checkFirst(segs[0]!, rel);
    this.lookFresh();
    return segs;
  }

  private check(seg: string, rel: string): void {
    // Sanitised paths never hold these; refusing them here keeps this class safe on its own.
    if (seg === '' || seg === '.' || seg === '..' || seg.includes('\\') || seg.includes('\0')) {
      throw new PathError(`unsafe output path: ${rel}`);
    }
  }

  private checkFirst(seg: string, rel: string): void {
    if (seg.length === 8 && seg.toLowerCase() === '.bulkget') throw new PathError(`output path is inside .bulkget: ${rel}`);
  }

  private lookFresh(): void {
    // DEST itself was checked by prepareDest; only its contents matter.
    this.destFresh ??= holdsNothing(this.destReal, '.bulkget');
    this.partFresh ??= holdsNothing(this.partDir);
  }

  /**
   * `dir` + one checked segment. A plain concatenation, as join() would give: `dir` is a real
   * path or built here, and a segment holds no separator or dot name (check()). join() itself
   * normalises the whole string again, ~0.5 KB of garbage per file.
   */
  private child(dir: string, seg: string): string {
    return dir.endsWith(sep) ? dir + seg : dir + sep + seg;
  }

  /** Checks (or creates) one folder; resolves with whether it is fresh. */
  private async verifyDir(dir: string, rel: string): Promise<boolean> {
    this.folderChecks++;
    let st;
    let created = false;
    try {
      st = await lstat(dir);
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw err;
      try {
        // One component at a time (not recursive): a symlink in the middle is then always seen.
        await mkdir(dir, 0o755);
        created = true;
      } catch (err2) {
        if (codeOf(err2) !== 'EEXIST') throw err2; // another download made it meanwhile
      }
      // Checked again after creating: something could have been put there in between.
      st = await lstat(dir);
    }
    if (st.isSymbolicLink()) throw new PathError('path escapes DEST through a symlink: ' + rel);
    if (!st.isDirectory()) throw new PathError('path crosses a file that is not a folder: ' + rel);
    return created || holdsNothing(dir);
  }
}

/** Whether a folder has no entries (besides `except`); reads at most two. */
function holdsNothing(dir: string, except?: string): boolean {
  let d;
  try {
    d = opendirSync(dir);
  } catch (err) {
    return codeOf(err) === 'ENOENT'; // nothing there holds nothing
  }
  try {
    for (let i = 0; i < 2; i++) {
      const e = d.readSync();
      if (e === null) return true;
      if (e.name !== except) return false;
    }
    return false;
  } finally {
    d.closeSync();
  }
}

