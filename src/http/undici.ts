// undici's package entry loads everything it offers (fetch, WebSocket, EventSource, caches, mocks):
// about 90 ms of start-up on this machine, more than a hundred small downloads cost. bulkget needs
// two pieces, imported from their own modules (static imports, so that the CLI's bundle carries
// them too; see undici-modules.d.ts for their types). test/undici-entry.test.ts checks that they
// are the very objects the entry exports, so an undici update that moves them fails the tests,
// not a run.

import type * as Undici from 'undici';
import ClientModule from 'undici/lib/dispatcher/client.js';
import connectModule from 'undici/lib/core/connect.js';

export const Client = ClientModule;
export type Client = Undici.Client;
export const buildConnector = connectModule;
