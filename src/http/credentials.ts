// Credentials stay with their origin (curl's rule, after CVE-2018-1000007 and CVE-2022-27776):
// Authorization, Cookie and Proxy-Authorization given with -H, and user:password in a URL, go
// only to the scheme, host and port they were given for; a redirect that changes any of the three
// drops them, unless --location-trusted. netrc supplies per-host credentials as curl does. And a
// password is never shown: every URL printed goes through maskUrl.
//
// Pure functions, table-tested; transfer.ts asks once per request for the headers to send.

/** Header names (lower case) that carry credentials. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'] as const;

interface NetrcEntry {
  login?: string;
  password?: string;
}

/** host (lower case) -> entry; `''` holds the `default` entry. */
export type Netrc = Map<string, NetrcEntry>;

/** What the caller said about credentials, once per run. */
export interface CredentialPolicy {
  /** Send credential headers to every host a redirect names (curl --location-trusted). */
  trusted: boolean;
  netrc?: Netrc;
}

function sameOrigin(a: URL, b: URL): boolean {
  // URL.origin folds the scheme's default port and the host's case: exactly (scheme, host, port).
  return a.origin === b.origin;
}

export function basicAuth(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
}

/** A URL's userinfo, percent-decoded (a malformed escape is kept as written). */
function userinfo(url: URL): { user: string; password: string } | undefined {
  if (url.username === '' && url.password === '') return undefined;
  return { user: decode(url.username), password: decode(url.password) };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The headers for one request of an item. `given` are the user's headers (-H, user agent);
 * `original` is the item's URL as listed, `url` the one requested now (a redirect target).
 * Returns `given` itself when nothing changes, so the usual request allocates nothing.
 */
export function requestHeaders(
  given: Record<string, string>,
  original: URL,
  url: URL,
  policy: CredentialPolicy,
): Record<string, string> {
  // The usual request: the URL as listed, no user in it, no netrc: nothing to add or drop.
  if (url === original && policy.netrc === undefined && url.username === '' && url.password === '') return given;
  const home = policy.trusted || url === original || sameOrigin(original, url);
  let out = given;
  if (!home) {
    for (const name of CREDENTIAL_HEADERS) {
      if (out[name] !== undefined) {
        if (out === given) out = { ...given };
        delete out[name];
      }
    }
  }
  if (out.authorization === undefined) {
    // Userinfo in the URL requested now is for that URL's origin; the listed URL's is for its
    // own origin (and, trusted, for every hop); netrc's is for the host it names.
    const info = userinfo(url) ?? (home ? userinfo(original) : undefined);
    let auth: string | undefined;
    if (info && info.password !== '') auth = basicAuth(info.user, info.password);
    else if (policy.netrc) {
      const entry = netrcFor(policy.netrc, url.hostname, info?.user);
      if (entry?.password !== undefined) auth = basicAuth(entry.login ?? info?.user ?? '', entry.password);
    }
    if (auth === undefined && info) auth = basicAuth(info.user, info.password);
    if (auth !== undefined) out = { ...out, authorization: auth };
  }
  return out;
}

/** The netrc entry for a host (and a login, when the URL names one), or the default entry. */
function netrcFor(netrc: Netrc, host: string, login?: string): NetrcEntry | undefined {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  const entry = netrc.get(h) ?? netrc.get('');
  if (!entry) return undefined;
  if (login !== undefined && login !== '' && entry.login !== undefined && entry.login !== login) return undefined;
  return entry;
}

/**
 * Parses a .netrc file as curl reads one: tokens separated by white space, `"quoted"` tokens with
 * backslash escapes, `machine NAME` opening an entry, `default` the fallback (the first of each
 * wins), `login`, `password`, `account`; a `macdef` runs to the next blank line and is skipped.
 * `#` starts a comment only where a token would start.
 */
export function parseNetrc(text: string): Netrc {
  const netrc: Netrc = new Map();
  const tokens = tokenize(text);
  let current: NetrcEntry | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.macdef) continue;
    const next = tokens[i + 1]?.value;
    switch (t.value) {
      case 'machine':
        i++;
        current = {};
        if (next !== undefined && !netrc.has(next.toLowerCase())) netrc.set(next.toLowerCase(), current);
        break;
      case 'default':
        current = {};
        if (!netrc.has('')) netrc.set('', current);
        break;
      case 'login':
      case 'password':
      case 'account':
        i++;
        if (current && next !== undefined && t.value !== 'account') current[t.value] ??= next;
        break;
      default:
        // An unknown word: skipped, as curl does.
        break;
    }
  }
  return netrc;
}

function tokenize(text: string): Array<{ value: string; macdef?: boolean }> {
  const out: Array<{ value: string; macdef?: boolean }> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    let value = '';
    if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      while (i < n && !/\s/.test(text[i]!)) value += text[i++];
    }
    out.push({ value });
    if (value === 'macdef') {
      // The macro's name, then its body up to the first empty line.
      const end = text.indexOf('\n\n', i);
      i = end < 0 ? n : end + 2;
      out[out.length - 1]!.macdef = true;
    }
  }
  return out;
}

/** A URL's text with no userinfo at all, for records that must hold no credentials. */
export function withoutUserinfo(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  return u.href;
}
