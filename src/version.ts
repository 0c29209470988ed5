// The package's version and the files it ships, found from the package root.
//
// This module sits one folder below the root in every form the code runs in: src/ (tsx, the
// tests), dist/ (the library) and dist/bulkget.cjs (the CLI's single-file bundle, which keeps
// this module's import.meta.url as its own). So every shipped file is looked up here, never
// relative to a module that a bundle moves.

import { readFileSync } from 'node:fs';

let version: string | undefined;

/** A file of the package, by its path from the package root (`fixtures/country_codes.txt`). */
export function packageFile(rel: string): URL {
  return new URL(`../${rel}`, import.meta.url);
}

export function bulkgetVersion(): string {
  version ??= (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
  return version;
}
