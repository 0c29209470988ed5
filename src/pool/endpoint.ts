// The pool's data: one endpoint (scheme, host, port) as the pool keeps it -- its slots, idle
// sockets, waiters and the pauses a server asked for -- and the pool's options and error.

import type { Client } from 'undici';
import type { Lease } from '../types.js';
import { Deque } from './deque.js';

export interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
}

export interface Slot {
  client: Client;
  ep: Endpoint;
  /** Date.now() when it last went idle. */
  idleSince: number;
}

export class Endpoint {
  slots = 0; // live Clients of this endpoint (idle + leased)
  readonly idle: Slot[] = []; // LIFO: the most recently used socket is the warmest
  readonly waiters = new Deque<Waiter>();
  pausedUntil = 0; // Retry-After on a 429/503 pauses the whole endpoint
  nextStart = 0; // --rate spacing
  inReady = false;
  constructor(readonly origin: string) {}
}

export interface PoolOptions {
  /** Total slots; 0 = unlimited. */
  limit: number;
  /** Slots per endpoint (scheme, host, port); 0 = unlimited. */
  perHost: number;
  /** Request starts per second per endpoint; 0 = unlimited. */
  rate: number;
  /** Builds the Client for one slot (timeouts, TLS, proxy are the caller's business). */
  makeClient: (origin: string) => Client;
  /**
   * Closes an idle Client whose slot another socket is to take; resolves once the server has seen
   * the close (default: `client.close()`, which resolves when our side is closed).
   */
  evictClient?: (client: Client) => Promise<void>;
  /**
   * For a Client given back: a promise (its slot closes and counts until it settles) when its
   * socket was closed on our side and the server should be given a moment to see that.
   */
  settle?: (client: Client) => Promise<void> | undefined;
  /** A socket opened or closed, as undici reports it. */
  onSocket?: (delta: 1 | -1) => void;
}

export class PoolClosedError extends Error {
  constructor() {
    super('the connection pool was closed');
  }
}

/** One grant of a slot: an object with a method rather than a closure per grant. */
export class SlotLease implements Lease {
  readonly client: Client;
  readonly origin: string;
  private done = false;

  constructor(
    private readonly pool: { released(slot: Slot): void },
    private readonly slot: Slot,
  ) {
    this.client = slot.client;
    this.origin = slot.ep.origin;
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.pool.released(this.slot);
  }
}
