// Country codes for the `flags` command: which codes a command line asks for, and the flag URL
// and file name of one code.

import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { packageFile } from '../version.js';

/** The 20 most populous countries: the default when no code is given (the flags2 examples' list). */
export const POP20 = ['CN', 'IN', 'US', 'ID', 'BR', 'PK', 'NG', 'BD', 'RU', 'JP', 'MX', 'PH', 'VN', 'ET', 'EG', 'DE', 'IR', 'TR', 'CD', 'FR'];

/** A CC argument that is neither one nor two letters: a usage error. */
export class CodeError extends UsageError {
  constructor() {
    super('each CC argument must be A to Z or AA to ZZ');
  }
}

/** CC arguments, --all and --every each say "which codes"; two answers at once is a usage error. */
export class CodeConflictError extends UsageError {
  constructor() {
    super('use only one of CC arguments, --all and --every');
  }
}

const A = 0x41;
const letter = (i: number): string => String.fromCharCode(A + i);
// ASCII only on purpose: toUpperCase() would turn "é" into "É", which is not a code.
const CC_ARG = /^[A-Za-z]{1,2}$/;

/** Expands CC arguments in the order given: "b" -> BA..BZ, "cn" -> CN. */
export function expandCodeArgs(args: string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (!CC_ARG.test(arg)) throw new CodeError();
    const up = arg.toUpperCase();
    if (up.length === 2) out.push(up);
    else for (let i = 0; i < 26; i++) out.push(up + letter(i));
  }
  return out;
}

/** AA..ZZ: all 676 two-letter combinations, most of which are not countries. */
export function everyCode(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 26; i++) for (let j = 0; j < 26; j++) out.push(letter(i) + letter(j));
  return out;
}

let bundled: string[] | undefined;

/**
 * The codes in fixtures/country_codes.txt, in file order (fixtures/ ships in the npm package).
 */
export function loadBundledCodes(): string[] {
  if (bundled === undefined) {
    const text = readFileSync(packageFile('fixtures/country_codes.txt'), 'utf8');
    bundled = text
      .split(/\s+/)
      .filter((w) => w !== '')
      .map((w) => w.toUpperCase());
  }
  return bundled.slice(); // callers may sort or cut their copy
}

/** The codes a `flags` command line selects: de-duplicated, sorted, then cut to `first`. */
export function selectCodes(o: { args: string[]; all?: boolean; every?: boolean; first?: number }): string[] {
  const all = o.all === true;
  const every = o.every === true;
  if ((all && every) || (o.args.length > 0 && (all || every))) throw new CodeConflictError();
  let codes: string[];
  if (every) codes = everyCode();
  else if (all) codes = loadBundledCodes();
  else if (o.args.length > 0) codes = expandCodeArgs(o.args);
  else codes = POP20.slice();
  codes = [...new Set(codes)].sort();
  if (o.first !== undefined) {
    if (!Number.isSafeInteger(o.first) || o.first < 0) throw new Error(`--first must be a non-negative integer, got ${o.first}`);
    codes = codes.slice(0, o.first);
  }
  return codes;
}

/** `{base}/{cc}/{cc}.gif` with cc in lower case, whether or not base ends with a slash. */
export function flagUrl(base: string, cc: string): string {
  let end = base.length;
  while (end > 0 && base.charCodeAt(end - 1) === 0x2f) end--;
  const lc = cc.toLowerCase();
  return `${base.slice(0, end)}/${lc}/${lc}.gif`;
}

/** The file name of a flag inside DEST: `{cc}.gif`, lower case. */
export function flagOut(cc: string): string {
  return `${cc.toLowerCase()}.gif`;
}
