// Types for the two undici modules src/http/undici.ts imports by path: the package declares only
// its entry. They are the entry's exports (checked in test/undici-entry.test.ts).

declare module 'undici/lib/dispatcher/client.js' {
  import type { Client } from 'undici';
  const ClientClass: typeof Client;
  export default ClientClass;
}

declare module 'undici/lib/core/connect.js' {
  import type { buildConnector } from 'undici';
  const connect: typeof buildConnector;
  export default connect;
}
