// What the CLI is given to run with: arguments, the standard streams, the environment.

import type { Readable } from 'node:stream';

export interface CliIO {
  argv: string[];
  stdin: Readable & { isTTY?: boolean };
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  version: string;
}
