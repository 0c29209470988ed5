// The package's version, read once from package.json (the user agent, reports, --version).

import { readFileSync } from 'node:fs';

let version: string | undefined;

export function bulkgetVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
