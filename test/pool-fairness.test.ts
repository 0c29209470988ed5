// The pool's pure choices (src/pool/fairness.ts), as tables.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Endpoint, type Slot } from '../src/pool/endpoint.js';
import { Deque } from '../src/pool/deque.js';
import { IDLE_LINGER_MS, evictionTime, starvedOtherThan, wakeTime } from '../src/pool/fairness.js';

function ep(slots: number, opts: { waiters?: number; idle?: number; pausedUntil?: number } = {}): Endpoint {
  const e = new Endpoint(`http://h${Math.random()}`);
  e.slots = slots;
  for (let i = 0; i < (opts.waiters ?? 0); i++) e.waiters.push({ resolve: () => {}, reject: () => {} });
  for (let i = 0; i < (opts.idle ?? 0); i++) e.idle.push({ client: undefined as never, ep: e, idleSince: 0 });
  e.pausedUntil = opts.pausedUntil ?? 0;
  return e;
}

test('evictionTime: an idle socket goes at once to a host with none or clearly fewer, else once it lingered', () => {
  const now = 1_000_000;
  const rows: Array<[string, number, number, number, number]> = [
    // name, victim's endpoint slots, idle for ms, waiting endpoint's slots, expected (0 = now)
    ['waiting host has no socket', 21, 0, 0, 0],
    ['waiting host has clearly fewer', 21, 0, 19, 0],
    ['even shares, just idle: lingers', 21, 0, 21, now + IDLE_LINGER_MS],
    ['one fewer is not clearly fewer', 21, 1, 20, now - 1 + IDLE_LINGER_MS],
    ['even shares, lingered enough', 21, IDLE_LINGER_MS, 21, 0],
    ['the waiting host has more', 2, 0, 5, now + IDLE_LINGER_MS],
  ];
  for (const [name, victimSlots, idleFor, waitingSlots, expected] of rows) {
    const owner = ep(victimSlots);
    const victim: Slot = { client: undefined as never, ep: owner, idleSince: now - idleFor };
    assert.equal(evictionTime(victim, ep(waitingSlots), now), expected, name);
  }
});

test('wakeTime: a pause or the --rate spacing in the future, else 0', () => {
  const e = ep(0);
  assert.equal(wakeTime(e, 100), 0);
  e.pausedUntil = 150;
  assert.equal(wakeTime(e, 100), 150);
  e.nextStart = 170;
  assert.equal(wakeTime(e, 100), 170);
  assert.equal(wakeTime(e, 170), 0);
});

test('starvedOtherThan: only a ready host that can take a socket now and holds fewer than ep - 1', () => {
  const me = ep(10, { waiters: 3 });
  const rows: Array<[string, Endpoint, number, boolean]> = [
    ['fewer and waiting', ep(5, { waiters: 1 }), 0, true],
    ['one fewer', ep(9, { waiters: 1 }), 0, false],
    ['nothing waiting', ep(1), 0, false],
    ['has an idle socket of its own', ep(1, { waiters: 1, idle: 1 }), 0, false],
    ['at its --per-host cap', ep(2, { waiters: 1 }), 2, false],
    ['paused', ep(1, { waiters: 1, pausedUntil: 2e12 }), 0, false],
  ];
  for (const [name, other, perHost, expected] of rows) {
    const ready = new Deque<Endpoint>();
    ready.push(me);
    ready.push(other);
    assert.equal(starvedOtherThan(me, ready, perHost, 1_000_000), expected, name);
  }
});
