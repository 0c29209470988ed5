// The pool's choices that need nothing but the endpoints involved and the time: when an endpoint
// may start a request, whether a released socket should go to another endpoint, and when an idle
// socket is closed for an endpoint that waits for the total. Pure; table-tested in
// test/pool-unit.test.ts.

import type { Deque } from './deque.js';
import type { Endpoint, Slot } from './endpoint.js';

// Measured 2026-12-04 with this code (Node 20.20, one run each): an idle socket closed at once for
// another endpoint made 2,048 connections for 100,000 x 4 KiB on 3 hosts (-l 64 -p 32), one that
// lingered 2 ms 879, 5 ms 271, 10 ms 107 (the code before: 106, by keeping thousands of items
// waiting). 5 ms is the one whose CPU and memory were measured (see the commit).
export const IDLE_LINGER_MS = 5;

/** 0 when the endpoint may start a request now, else the Date.now() time it may. */
export function wakeTime(ep: Endpoint, now: number): number {
  const t = Math.max(ep.pausedUntil, ep.nextStart);
  return t > now ? t : 0;
}

/**
 * Is some other ready endpoint, blocked on the total, holding fewer slots than ep - 1? Then a
 * socket ep gives back goes to it. Looking at the head of the round robin is enough: it is who
 * gets the next slot.
 */
export function starvedOtherThan(ep: Endpoint, ready: Deque<Endpoint>, perHost: number, now: number): boolean {
  const n = Math.min(ready.length, 8);
  for (let i = 0; i < n; i++) {
    const other = ready.at(i)!;
    if (other === ep || other.waiters.length === 0) continue;
    if (perHost > 0 && other.slots >= perHost) continue;
    if (other.idle.length > 0) continue;
    if (wakeTime(other, now) !== 0) continue;
    if (other.slots + 1 < ep.slots) return true;
  }
  return false;
}

/**
 * When the idle socket `victim` is closed to make room for `ep`, which waits for the total: 0 for
 * now, else the Date.now() time. One that went idle a moment ago belongs to a host whose next item
 * is likely on its way; it goes at once only to a host with none or clearly fewer.
 */
export function evictionTime(victim: Slot, ep: Endpoint, now: number): number {
  const due = victim.idleSince + IDLE_LINGER_MS;
  if (due <= now || ep.slots === 0 || victim.ep.slots > ep.slots + 1) return 0;
  return due;
}
