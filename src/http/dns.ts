// One DNS answer per host name per TTL: a list spread over many hosts otherwise asks getaddrinfo
// once per connection, on the libuv thread pool the file writes use too. dns.lookup keeps what
// getaddrinfo gives (/etc/hosts included) but no TTL, so answers are kept for a fixed time, as
// browsers and curl's DNS cache (60 s) do; a failed lookup is not kept.

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Lookup = (hostname: string, options: LookupOptions, callback: Callback) => void;

interface Entry {
  until: number;
  answer?: LookupAddress[];
  waiting?: Array<(err: NodeJS.ErrnoException | null, answer?: LookupAddress[]) => void>;
}

const TTL_MS = 60_000;
const MAX_HOSTS = 10_000;

/** A `lookup` for net.connect that asks the resolver once per host per TTL (and once at a time). */
export function cachedLookup(resolve: Lookup = dnsLookup as unknown as Lookup, ttlMs = TTL_MS, now = Date.now): Lookup {
  const cache = new Map<string, Entry>();
  return (hostname, options, callback) => {
    const key = `${hostname}/${options.family ?? 0}`;
    let e = cache.get(key);
    if (e && e.answer && e.until > now()) return answer(e.answer, options, callback);
    if (e?.waiting) {
      e.waiting.push((err, a) => (err ? callback(err, '') : answer(a!, options, callback)));
      return;
    }
    if (cache.size >= MAX_HOSTS) cache.clear();
    e = { until: 0, waiting: [] };
    cache.set(key, e);
    const entry = e;
    resolve(hostname, { family: options.family, hints: options.hints, all: true }, (err, addresses) => {
      const waiting = entry.waiting ?? [];
      entry.waiting = undefined;
      if (err) {
        cache.delete(key);
        callback(err, '');
      } else {
        entry.answer = addresses as LookupAddress[];
        entry.until = now() + ttlMs;
        answer(entry.answer, options, callback);
      }
      for (const w of waiting) w(err, entry.answer);
    });
  };
}

function answer(all: LookupAddress[], options: LookupOptions, callback: Callback): void {
  if (options.all) callback(null, all);
  else if (all.length === 0) callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), '');
  else callback(null, all[0]!.address, all[0]!.family);
}
