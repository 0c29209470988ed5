// Temporary folders for one test file, removed when the file's tests are done.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { partialName } from '../../src/naming/names.js';

/** A factory of fresh temp folders named bulkget-PREFIX-…, all removed after the file's tests. */
export function tempDirs(prefix: string): (name?: string) => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return (name?: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), `bulkget-${name ?? prefix}-`));
    made.push(dir);
    return dir;
  };
}

/** Where bulkget keeps the partial file of `rel` (a path relative to DEST). */
export function partialOf(dest: string, rel: string): string {
  return path.join(dest, '.bulkget', 'partial', partialName(rel));
}

/** Every file under `dir` (bulkget's own records left out) with its SHA-256, sorted: "path hash". */
export function filesOf(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    if (rel === '' && name === '.bulkget') continue;
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...filesOf(dir, r));
    else out.push(`${r} ${createHash('sha256').update(readFileSync(path.join(dir, r))).digest('hex').slice(0, 16)}`);
  }
  return out;
}
