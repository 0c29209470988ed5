// The bundled flag images, loaded once per process, and the seeded generator of ERROR mode faults.

import { readFile, readdir, stat } from 'node:fs/promises';
import { packageFile } from '../version.js';

interface Flag {
  body: Buffer;
  etag: string;
  lastModified: string; // IMF-fixdate
  lastModifiedMs: number; // whole seconds, as HTTP dates carry no finer resolution
}

const FLAGS_DIR = packageFile('fixtures/flags/');

// One copy of the flags per process: `flags` starts an embedded server and tests start many.
let flagCache: Promise<ReadonlyMap<string, Flag>> | undefined;

export function loadFlags(): Promise<ReadonlyMap<string, Flag>> {
  if (!flagCache) {
    flagCache = readAllFlags().catch((e: unknown) => {
      // A failed load must not poison later attempts (e.g. a test that fixes the folder).
      flagCache = undefined;
      throw e;
    });
  }
  return flagCache;
}

async function readAllFlags(): Promise<ReadonlyMap<string, Flag>> {
  let names: string[];
  try {
    names = await readdir(FLAGS_DIR);
  } catch (e) {
    throw new Error(`cannot read the bundled flags in ${FLAGS_DIR.pathname}: ${errorText(e)}`);
  }
  const entries = await Promise.all(
    names
      .filter((n) => /^[a-z]{2}\.gif$/.test(n))
      .map(async (name): Promise<[string, Flag]> => {
        const file = new URL(name, FLAGS_DIR);
        const [body, st] = await Promise.all([readFile(file), stat(file)]);
        const lastModifiedMs = Math.floor(st.mtimeMs / 1000) * 1000;
        const etag = `"${process.getBuiltinModule('node:crypto').createHash('sha1').update(body).digest('hex').slice(0, 16)}"`;
        return [name.slice(0, 2), { body, etag, lastModified: new Date(lastModifiedMs).toUTCString(), lastModifiedMs }];
      }),
  );
  if (entries.length === 0) throw new Error(`no flag images found in ${FLAGS_DIR.pathname}`);
  return new Map(entries);
}

/** mulberry32: tiny, fast and good enough to make fault sequences reproducible from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, ' ');
}
