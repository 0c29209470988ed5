// One endpoint (scheme, host, port) as the pool keeps it: its slots, idle sockets, waiters and
// the pauses a server asked for.

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
