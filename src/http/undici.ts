// undici's package entry loads everything it offers (fetch, WebSocket, EventSource, caches, mocks):
// about 90 ms of start-up on this machine, more than a hundred small downloads cost. bulkget needs
// two pieces, loaded from their own modules. test/undici-entry.test.ts checks that they are the
// very objects the entry exports, so an undici update that moves them fails the tests, not a run.

import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const Client = require('undici/lib/dispatcher/client.js') as typeof Undici.Client;
export type Client = Undici.Client;
export const buildConnector = require('undici/lib/core/connect.js') as typeof Undici.buildConnector;
