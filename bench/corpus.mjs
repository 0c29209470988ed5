// Deterministic corpora and their verification.
//
// Every byte is a pure function of the file name, so a corpus can be regenerated anywhere and a
// download can be checked without keeping a copy: small files carry their own index in a text
// pattern, medium and large files are pseudo-random (so no layer can cheat by compressing), and each
// 1 MiB block of a large file is stamped with its block number so a tool that writes blocks at the
// wrong offset cannot pass a spot check.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export const MiB = 1024 * 1024;
const CORPUS_FORMAT = 3; // bump when the content functions change, so --keep never reuses stale files
const LARGE_BLOCK = MiB;
const STAMP = 64; // bytes at the start of each large block that carry "name block k"

export function corpusSizes(quick, scale = 1) {
  // --quick keeps every code path (many small files, a few medium, two large) but a tenth of the work;
  // --scale N multiplies the small and medium files (steady state: start-up a small share).
  return quick
    ? { small: 2000 * scale, smallSize: 4096, medium: 40 * scale, mediumSize: MiB, large: 2, largeSize: 64 * MiB }
    : { small: 10000 * scale, smallSize: 4096, medium: 200 * scale, mediumSize: MiB, large: 2, largeSize: 512 * MiB };
}

export const smallName = (i) => `f${String(i).padStart(5, '0')}.bin`;
export const mediumName = (i) => `m${String(i).padStart(3, '0')}.bin`;
export const largeName = (i) => `l${i}.bin`;
export const TINY_BODY = Buffer.from('bulkget tiny 16\n'); // 16 bytes: a million of them cost inodes, not space

export function smallContent(i, size) {
  const unit = Buffer.from(`bulkget bench small file ${String(i).padStart(5, '0')}\n`);
  const buf = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += unit.length) unit.copy(buf, off, 0, Math.min(unit.length, size - off));
  return buf;
}

// xorshift32 seeded from sha256(name): fast enough to make 200 MiB in well under a second.
function prngFill(name, size) {
  const seed = createHash('sha256').update(name).digest();
  let x = seed.readUInt32LE(0) || 0x9e3779b9;
  const buf = Buffer.allocUnsafe(size);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, size >>> 2);
  for (let k = 0; k < words.length; k++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[k] = x;
  }
  return buf;
}

export const mediumContent = (name, size) => prngFill(name, size);

export function largeBase(name) {
  return prngFill(name, LARGE_BLOCK);
}

export function stampBlock(base, name, k) {
  // Copy only when needed: the caller owns `base` and re-stamps it block by block.
  const stamp = Buffer.alloc(STAMP, 0x20);
  stamp.write(`${name} block ${k}\n`);
  stamp.copy(base, 0);
  return base;
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

async function writeFiles(dir, count, nameOf, contentOf) {
  await fsp.mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, nameOf(i)), contentOf(i));
}

function writeLarge(file, name, size) {
  const base = largeBase(name);
  const fd = fs.openSync(file, 'w');
  try {
    const blocks = Math.ceil(size / LARGE_BLOCK);
    for (let k = 0; k < blocks; k++) {
      stampBlock(base, name, k);
      const len = Math.min(LARGE_BLOCK, size - k * LARGE_BLOCK);
      fs.writeSync(fd, base, 0, len, k * LARGE_BLOCK);
    }
  } finally {
    fs.closeSync(fd);
  }
}

// Builds (or reuses, when the manifest matches) the corpus under root. Returns the manifest.
export async function ensureCorpus(root, quick, log, scale = 1) {
  const sizes = corpusSizes(quick, scale);
  const manifestPath = path.join(root, 'manifest.json');
  try {
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    if (m.format === CORPUS_FORMAT && JSON.stringify(m.sizes) === JSON.stringify(sizes) && quickCheck(root, m)) {
      log(`corpus: reusing ${root}`);
      return m;
    }
  } catch { /* no manifest yet: build it */ }
  const t0 = performance.now();
  await fsp.rm(root, { recursive: true, force: true });
  const manifest = { format: CORPUS_FORMAT, sizes, sets: {} };

  const smallHashes = [];
  await writeFiles(path.join(root, 'small'), sizes.small, smallName, (i) => {
    const b = smallContent(i, sizes.smallSize);
    smallHashes.push(sha256(b));
    return b;
  });
  manifest.sets.small = files(sizes.small, smallName, () => sizes.smallSize, smallHashes);

  const mediumHashes = [];
  await writeFiles(path.join(root, 'medium'), sizes.medium, mediumName, (i) => {
    const b = mediumContent(mediumName(i), sizes.mediumSize);
    mediumHashes.push(sha256(b));
    return b;
  });
  manifest.sets.medium = files(sizes.medium, mediumName, () => sizes.mediumSize, mediumHashes);

  await fsp.mkdir(path.join(root, 'large'), { recursive: true });
  for (let i = 0; i < sizes.large; i++) writeLarge(path.join(root, 'large', largeName(i)), largeName(i), sizes.largeSize);
  // Large files are checked by size and stamped-block spot checks, not a full hash (see verifyOutput).
  manifest.sets.large = files(sizes.large, largeName, () => sizes.largeSize, null);

  await fsp.mkdir(path.join(root, 'tiny'), { recursive: true });
  fs.writeFileSync(path.join(root, 'tiny', 't.bin'), TINY_BODY);

  fs.writeFileSync(manifestPath, JSON.stringify(manifest));
  log(`corpus: generated in ${((performance.now() - t0) / 1000).toFixed(1)}s under ${root}`);
  return manifest;
}

function files(count, nameOf, sizeOf, hashes) {
  const out = [];
  for (let i = 0; i < count; i++) out.push({ name: nameOf(i), size: sizeOf(i), sha256: hashes ? hashes[i] : null });
  return out;
}

// Cheap sanity check before reusing a kept corpus: every file present with the right size.
function quickCheck(root, m) {
  for (const [set, list] of Object.entries(m.sets)) {
    for (const f of list) {
      try {
        if (fs.statSync(path.join(root, set, f.name)).size !== f.size) return false;
      } catch { return false; }
    }
  }
  return fs.existsSync(path.join(root, 'tiny', 't.bin'));
}

// Lists regular files under dir (relative paths), leaving out bulkget's own records in .bulkget/.
function listFiles(dir, rel = '', out = []) {
  let entries;
  try { entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }); } catch { return out; }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && e.name === '.bulkget') continue;
    if (e.isDirectory()) listFiles(dir, r, out);
    else out.push(r);
  }
  return out;
}

// Checks one run's output. Sizes of every file, the exact set of names (no extras such as leftover
// .part or .aria2 files), a full hash of every medium file and of a 1-in-50 sample of small files
// (plus the last), and stamped-block spot checks of large files. Returns null when fine, else why.
export function verifyOutput(outDir, set, expected) {
  const found = listFiles(outDir);
  const want = new Map(expected.map((f) => [f.name, f]));
  const extras = found.filter((n) => !want.has(n));
  if (extras.length) return `${extras.length} unexpected file(s), e.g. ${extras.slice(0, 3).join(', ')}`;
  if (found.length !== expected.length) {
    const have = new Set(found);
    const missing = expected.filter((f) => !have.has(f.name));
    return `${missing.length} of ${expected.length} file(s) missing, e.g. ${missing.slice(0, 3).map((f) => f.name).join(', ')}`;
  }
  for (let i = 0; i < expected.length; i++) {
    const f = expected[i];
    const p = path.join(outDir, f.name);
    const size = fs.statSync(p).size;
    if (size !== f.size) return `${f.name}: ${size} bytes, expected ${f.size}`;
    const sampled = set === 'medium' || (set === 'small' && (i % 50 === 0 || i === expected.length - 1));
    if (sampled && f.sha256 && sha256(fs.readFileSync(p)) !== f.sha256) return `${f.name}: sha256 mismatch`;
    if (set === 'large') {
      const why = spotCheckLarge(p, f);
      if (why) return why;
    }
  }
  return null;
}

function spotCheckLarge(p, f) {
  const blocks = Math.ceil(f.size / LARGE_BLOCK);
  const base = largeBase(f.name);
  const got = Buffer.allocUnsafe(LARGE_BLOCK);
  const fd = fs.openSync(p, 'r');
  try {
    // 16 blocks spread over the file, first and last included: catches truncation, zero-filled holes
    // and blocks written at the wrong offset, at 1/32 of the cost of hashing 512 MiB.
    const picks = new Set();
    for (let j = 0; j < 16; j++) picks.add(Math.round((j * (blocks - 1)) / 15));
    for (const k of picks) {
      const len = Math.min(LARGE_BLOCK, f.size - k * LARGE_BLOCK);
      const n = fs.readSync(fd, got, 0, len, k * LARGE_BLOCK);
      stampBlock(base, f.name, k);
      if (n !== len || got.compare(base, 0, len, 0, len) !== 0) return `${f.name}: block ${k} differs`;
    }
  } finally {
    fs.closeSync(fd);
  }
  return null;
}

// Counts files (not their content) below dir: used for the million-file memory run, where reading
// every file back would take longer than the run itself.
export function countFiles(dir) {
  return listFiles(dir).length;
}
