/**
 * A seed 000 ("Always Online") client: socket.io-client v2 (the seed served socket.io ^2.1.1), on
 * the root namespace of a socket.io path, recording every roomsync event in order.
 */
// socket.io-client@2 (Engine.IO 3), installed under an alias beside v4; it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, options: object) => V2Socket = require('socket.io-client-v2');

interface V2Socket {
  id: string;
  connected: boolean;
  on(event: string, listener: (...args: any[]) => void): void;
  once(event: string, listener: (...args: any[]) => void): void;
  emit(event: string, ...args: unknown[]): void;
  close(): void;
}

/** Every event a seed 000 server sends. */
export const ROOMSYNC_EVENTS = ['authenticate', 'join', 'msg', 'sync', 'remote_join', 'remote_leave', 'remote_disconnect', 'remote_sync', 'kickout', 'system', 'disconnect'] as const;

export interface SeedClient {
  readonly socket: V2Socket;
  /** Every event received, in order (`disconnect` included). */
  readonly events: { event: string; data: any }[];
  emit(event: string, ...args: unknown[]): void;
  /** Resolves with the n-th (1-based, counting from the start) payload of `event`. */
  nth(event: string, n: number, timeoutMs?: number): Promise<any>;
  /** Resolves with the next payload of `event` after those already received. */
  next(event: string, timeoutMs?: number): Promise<any>;
  /** The payloads of `event` so far. */
  all(event: string): any[];
  /** `authenticate`, resolving with the answer. */
  auth(uid: string | number, token: string): Promise<any>;
  /** `join`, resolving with the answer. */
  join(roomId: unknown, dummy?: boolean): Promise<any>;
  close(): void;
}

const opened: SeedClient[] = [];

/** Opens a seed client on `path` of a connector (on `/`, or a namespace by name) and waits for the connection. */
export async function seedClient(port: number, path = '/socket.io', namespace = ''): Promise<SeedClient> {
  const socket = ioV2(`http://127.0.0.1:${port}${namespace}`, { path, transports: ['websocket'], reconnection: false, forceNew: true });
  const events: { event: string; data: any }[] = [];
  const waiters: { event: string; n: number; resolve: (data: any) => void }[] = [];
  const count = (event: string) => events.filter((e) => e.event === event).length;
  const settle = () => {
    for (const waiter of [...waiters]) {
      const matching = events.filter((e) => e.event === waiter.event);
      if (matching.length >= waiter.n) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(matching[waiter.n - 1]!.data);
      }
    }
  };
  for (const event of ROOMSYNC_EVENTS) {
    socket.on(event, (data: unknown) => {
      events.push({ event, data });
      settle();
    });
  }
  const nth = (event: string, n: number, timeoutMs = 10_000): Promise<any> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} #${n} within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.event))}`)), timeoutMs);
      waiters.push({ event, n, resolve: (data) => (clearTimeout(timer), resolve(data)) });
      settle();
    });
  const client: SeedClient = {
    socket,
    events,
    emit: (event, ...args) => socket.emit(event, ...args),
    nth,
    next: (event, timeoutMs) => nth(event, count(event) + 1, timeoutMs),
    all: (event) => events.filter((e) => e.event === event).map((e) => e.data),
    auth(uid, token) {
      const answer = client.next('authenticate');
      socket.emit('authenticate', { uid, token });
      return answer;
    },
    join(roomId, dummy) {
      const answer = client.next('join');
      socket.emit('join', dummy === undefined ? { roomId } : { roomId, dummy });
      return answer;
    },
    close: () => socket.close(),
  };
  opened.push(client);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.once('error', (e: unknown) => reject(new Error(String(e))));
  });
  return client;
}

/** Closes every client opened so far (afterAll). */
export function closeSeedClients(): void {
  for (const client of opened.splice(0)) client.close();
}
