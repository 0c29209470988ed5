// The connection pool: at most `limit` sockets in total and `perHost` per endpoint, fairly shared.
//
// Why one undici Client per slot instead of one undici Pool per endpoint: a Pool never gives
// back a single idle socket (it keeps every Client it ever made until its keep-alive runs out),
// so a drained endpoint would sit on total slots that another endpoint needs. With one Client
// per slot the scheduler owns every socket: it can close exactly one idle socket of a drained
// endpoint and open one for a waiting endpoint, and the count it keeps is an upper bound on the
// real sockets (a Client holds one socket at most, pipelining 1). Keep-alive reuse still
// happens: a released Client goes straight to the next waiter of the same endpoint.
//
// A slot counts against the total from its Client's creation until its close has resolved (as
// the server sees it: PoolOptions.evictClient, settle), so a server counting sockets never sees more.

import type { Client } from 'undici';
import type { Lease, Slots } from '../types.js';
import { Deque } from './deque.js';
import { Endpoint, PoolClosedError, SlotLease, type PoolOptions, type Slot, type Waiter } from './endpoint.js';
import { evictionTime, starvedOtherThan, wakeTime } from './fairness.js';

// 200 hosts in turn with -l 20, 4,000 files: 4 per endpoint made 533 connections (1.41 s), 16
// made 226 (1.07 s), 32 209 (1.01 s); the code before 227 (measured 2026-12-04, one run each).
const LOOK_AHEAD_PER_ENDPOINT = 16;

export class ConnectionPool implements Slots {
  private readonly endpoints = new Map<string, Endpoint>();
  /** Endpoints with waiters, served round-robin one grant at a time. */
  private readonly ready = new Deque<Endpoint>();
  /** Idle slots across endpoints, oldest first: the eviction order. */
  private readonly idleSlots = new Set<Slot>();
  private alive = 0; // Clients that exist and are not closing
  private closing = 0; // Clients whose close() has not resolved yet
  private leased = 0;
  private waiting = 0; // acquire() calls not granted (nor rejected) yet
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private closed = false;
  private pumping = false;
  private readonly rateGap: number;
  /** Highest number of slots ever held at once (alive + closing): for tests and the bench. */
  peakSlots = 0;

  constructor(private readonly opts: PoolOptions) {
    this.rateGap = opts.rate > 0 ? 1000 / opts.rate : 0;
  }

  get activeLeases(): number { return this.leased; }
  get slotsInUse(): number { return this.alive + this.closing; }

  /**
   * How many items past its window the run may start now, to find work for slots no started item
   * can take. Without limit while items wait for their own host (a --per-host cap, a pause) and
   * the total has room: a later host must be found (SPEC: 1,000 URLs on A, then B). A few per
   * endpoint while the total is full but not all leased (idle or closing sockets): items of hosts
   * whose sockets are open are then there when one comes free, without a burst of thousands
   * waiting behind each close (100,000 x 4 KiB on 3 hosts held up to 9,937).
   */
  lookAhead(): number {
    const limit = this.opts.limit;
    if (this.waiting === 0 || limit === 0) return 0;
    if (this.alive + this.closing < limit) return Infinity;
    return this.leased < limit ? LOOK_AHEAD_PER_ENDPOINT * this.endpoints.size : 0;
  }

  /**
   * Waits for a slot on `origin`. Waiting costs nothing but a queue entry: no socket and no
   * total slot is held while waiting. `front` puts the waiter first in its endpoint's queue
   * (retries and redirect hops keep their place in input order).
   */
  acquire(origin: string, front = false): Promise<Lease> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const ep = this.endpoint(origin);
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.waiting++;
      ep.waiters[front ? 'unshift' : 'push'](waiter);
      // Its own idle socket at once: pump() serves the round robin's head first, and while that
      // one waits for the total this socket sat idle under waiters of its own.
      const now = Date.now();
      const own = ep.idle.length > 0 && wakeTime(ep, now) === 0 ? ep.idle.pop() : undefined;
      if (own) {
        this.idleSlots.delete(own);
        this.grant(own, ep.waiters.shift()!, now);
        if (ep.waiters.length === 0) return;
      }
      this.markReady(ep);
      this.pump();
    });
  }

  /** Stops new requests to `origin` until `untilMs` (Date.now() clock). */
  pause(origin: string, untilMs: number): void {
    const ep = this.endpoint(origin);
    if (untilMs > ep.pausedUntil) ep.pausedUntil = untilMs;
  }

  refresh(origin: string): void {
    const ep = this.endpoints.get(origin);
    if (!ep) return;
    for (const slot of [...ep.idle]) void this.closeSlot(slot, this.opts.evictClient?.(slot.client));
  }

  /** Rejects every waiter and closes every socket. Leased slots close when released. */
  async close(): Promise<void> {
    this.shut();
    const closing: Promise<void>[] = [];
    for (const slot of [...this.idleSlots]) closing.push(this.closeSlot(slot));
    await Promise.all(closing);
  }

  /** Destroys every socket at once, leased ones included (second Ctrl-C, SIGTERM). */
  async destroyAll(): Promise<void> {
    this.shut();
    const all: Promise<unknown>[] = [];
    for (const c of this.clients) all.push(c.destroy().catch(() => undefined));
    await Promise.all(all);
  }

  // Every Client ever made and not yet closed, for destroyAll.
  private readonly clients = new Set<Client>();

  /** No more grants: every waiter is rejected. */
  private shut(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const err = new PoolClosedError();
    for (const ep of this.endpoints.values()) {
      let w: Waiter | undefined;
      while ((w = ep.waiters.shift())) {
        this.waiting--;
        w.reject(err);
      }
    }
  }

  private endpoint(origin: string): Endpoint {
    let ep = this.endpoints.get(origin);
    if (!ep) {
      ep = new Endpoint(origin);
      this.endpoints.set(origin, ep);
    }
    return ep;
  }

  private markReady(ep: Endpoint): void {
    if (!ep.inReady) {
      ep.inReady = true;
      this.ready.push(ep);
    }
  }

  private canOpen(ep: Endpoint): boolean {
    const { limit, perHost } = this.opts;
    if (perHost > 0 && ep.slots >= perHost) return false;
    if (limit > 0 && this.alive + this.closing >= limit) return false;
    return true;
  }

  private openSlot(ep: Endpoint): Slot {
    const client = this.opts.makeClient(ep.origin);
    const onSocket = this.opts.onSocket;
    if (onSocket) {
      client.on('connect', () => onSocket(1));
      client.on('disconnect', () => onSocket(-1));
    }
    this.clients.add(client);
    ep.slots++;
    this.alive++;
    const inUse = this.alive + this.closing;
    if (inUse > this.peakSlots) this.peakSlots = inUse;
    return { client, ep, idleSince: 0 };
  }

  private closeSlot(slot: Slot, closing?: Promise<void>): Promise<void> {
    this.idleSlots.delete(slot);
    const i = slot.ep.idle.indexOf(slot);
    if (i >= 0) slot.ep.idle.splice(i, 1);
    slot.ep.slots--;
    this.alive--;
    this.closing++;
    this.forget(slot.ep);
    const done = () => {
      this.closing--;
      this.clients.delete(slot.client);
      if (slot.ep.waiters.length > 0) this.markReady(slot.ep); // one at its --per-host cap waited for this
      this.pump();
    };
    return (closing ?? slot.client.close()).then(done, done);
  }

  /** Drops an endpoint that holds nothing, so a list of a million hosts does not pile up. */
  private forget(ep: Endpoint): void {
    if (ep.slots === 0 && ep.waiters.length === 0 && !ep.inReady && ep.pausedUntil <= Date.now()) {
      this.endpoints.delete(ep.origin);
    }
  }

  private grant(slot: Slot, waiter: Waiter, now: number): void {
    const ep = slot.ep;
    if (this.rateGap > 0) ep.nextStart = Math.max(now, ep.nextStart) + this.rateGap;
    this.leased++;
    this.waiting--;
    waiter.resolve(new SlotLease(this, slot));
  }

  /** Called after every lease given back: the run looks again at whether to start more items. */
  afterRelease: (() => void) | undefined;

  /** A lease given back (once: SlotLease sees to that). */
  released(slot: Slot): void {
    this.leased--;
    this.onRelease(slot);
    this.afterRelease?.();
  }

  private onRelease(slot: Slot): void {
    const ep = slot.ep;
    const settling = this.closed ? undefined : this.opts.settle?.(slot.client);
    if (this.closed || settling) {
      void this.closeSlot(slot, settling);
      return;
    }
    const now = Date.now();
    if (ep.waiters.length > 0 && wakeTime(ep, now) === 0) {
      // Fairness: when the total is what binds, and another endpoint is waiting with clearly
      // fewer slots than this one, hand it this slot instead of reusing it here.
      if (this.opts.limit > 0 && this.alive + this.closing >= this.opts.limit && starvedOtherThan(ep, this.ready, this.opts.perHost, now)) {
        void this.closeSlot(slot, this.opts.evictClient?.(slot.client));
        return;
      }
      this.grant(slot, ep.waiters.shift()!, now);
      return;
    }
    slot.idleSince = now;
    ep.idle.push(slot);
    this.idleSlots.add(slot);
    // Waiters of a paused (or rate-limited) endpoint that was full on its own are off the ready
    // list; the slot that just came back is theirs once the pause ends, so put them back on it
    // and let pump() arm the wake-up timer.
    if (ep.waiters.length > 0) this.markReady(ep);
    this.pump();
  }

  /** Hands out as many slots as the limits allow, one per endpoint per turn. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      const now = Date.now();
      let wake = 0;
      let blocked = 0; // endpoints in a row that could not be served this round
      while (this.ready.length > 0 && blocked < this.ready.length) {
        const ep = this.ready.shift()!;
        if (ep.waiters.length === 0) {
          ep.inReady = false;
          this.forget(ep);
          continue;
        }
        const t = wakeTime(ep, now);
        if (t !== 0) {
          wake = wake === 0 ? t : Math.min(wake, t);
          this.ready.push(ep);
          blocked++;
          continue;
        }
        let slot = ep.idle.pop();
        if (slot) {
          this.idleSlots.delete(slot);
        } else if (this.canOpen(ep)) {
          slot = this.openSlot(ep);
        } else if (this.opts.perHost > 0 && ep.slots >= this.opts.perHost) {
          // Full on its own: it is served when one of its own slots comes back (onRelease).
          ep.inReady = false;
          continue;
        } else {
          // Blocked by the total. Free the oldest idle socket of another endpoint, if any;
          // its close makes room and pumps again. Closes already under way count as room
          // coming, so a burst of pumps does not close more sockets than are waited for.
          const victim = this.idleSlots.values().next().value as Slot | undefined;
          if (victim && this.closing < this.ready.length + 1) {
            const due = evictionTime(victim, ep, now);
            if (due === 0) void this.closeSlot(victim, this.opts.evictClient?.(victim.client));
            else wake = wake === 0 ? due : Math.min(wake, due);
          }
          this.ready.unshift(ep);
          break;
        }
        blocked = 0;
        this.grant(slot, ep.waiters.shift()!, now);
        if (ep.waiters.length > 0) this.ready.push(ep);
        else ep.inReady = false;
      }
      if (wake !== 0) this.armTimer(wake);
    } finally {
      this.pumping = false;
    }
  }

  private armTimer(due: number): void {
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, due - Date.now()));
  }
}
