// bulkget loads undici's Client and connector from their own modules to spare the start-up cost
// of the package entry (src/http/undici.ts). This pins that shortcut to the real exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as entry from 'undici';
import { Client, buildConnector } from '../src/http/undici.js';

test('the deep undici imports are the objects the package exports', () => {
  assert.equal(Client, entry.Client);
  assert.equal(buildConnector, entry.buildConnector);
});
