import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, EventAck, OkPayload, ServerToClientEvents } from '@herald/wire';
// socket.io-client@2 (Engine.IO 3), installed under an alias beside v4; it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, options: object) => unknown = require('socket.io-client-v2');

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The socket.io client majors Herald accepts (issue 3, item 10): the stock v4 client and the seed era's v2. */
export type ClientVersion = 'v4' | 'v2';
export const CLIENT_VERSIONS: readonly ClientVersion[] = ['v4', 'v2'];

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** Every event a client received, in order, for "this and nothing else" assertions. */
export interface Recorded {
  readonly socket: TestSocket;
  readonly events: { event: string; args: unknown[] }[];
}

/** A refused handshake: its message, and (v4 only: a v2 client gets the bare message) its `data`. */
export type Refusal = Error & { data?: unknown };

/** Every event the server sends; a v2 socket has no `onAny`, so it records these by name. */
const SERVER_EVENTS = Object.keys({
  ok: true,
  push: true,
  offlineMessage: true,
  kickout: true,
  peopleJoin: true,
  peopleLeave: true,
  joinRoom: true,
  leaveRoom: true,
} satisfies Record<keyof ServerToClientEvents, true>);

/**
 * Connecting, recording and refusals with one client major, in the same shape for both. A v2 socket
 * has the v4 surface the tests use (`emit` with an ack, `once`, `on`, `close`, `id` — which in v2 is
 * `/<nsp>#<engine id>`, as the server's), so it is typed as a v4 socket.
 */
export interface Clients {
  readonly version: ClientVersion;
  /** Opens a client on a namespace of a connector; resolves on `ok`. `headers` go with the handshake (a browser's `cookie` or `origin`). */
  connect(port: number, namespace: string, query: Record<string, string>, headers?: Record<string, string>): Promise<Recorded & { ok: OkPayload }>;
  /** Resolves with the refusal a handshake gets (and fails if it connects instead). */
  refusal(port: number, namespace: string, query: Record<string, string>): Promise<Refusal>;
}

export function clients(version: ClientVersion): Clients {
  function open(port: number, namespace: string, query: Record<string, string>, headers?: Record<string, string>): TestSocket {
    const url = `http://127.0.0.1:${port}${namespace}`;
    const options = { query, transports: ['websocket'], reconnection: false, forceNew: true, ...(headers ? { extraHeaders: headers } : {}) };
    return version === 'v4' ? io(url, options) : (ioV2(url, options) as TestSocket);
  }
  /** Calls `listener` with the refusal of the handshake: v4 `connect_error`; v2 an `error` event carrying the message. */
  function onRefusal(socket: TestSocket, listener: (refusal: Refusal) => void): void {
    if (version === 'v4') {
      socket.once('connect_error', listener);
      return;
    }
    const v2 = socket as unknown as { once(event: string, listener: (payload: unknown) => void): void };
    v2.once('error', (payload) => listener(typeof payload === 'string' ? new Error(payload) : Object.assign(new Error('refused without a message'), { data: payload })));
    // A transport failure (nothing listening) is `connect_error` in v2 too.
    v2.once('connect_error', (error) => listener(error as Error));
  }
  return {
    version,
    connect(port, namespace, query, headers) {
      const socket = open(port, namespace, query, headers);
      const events: { event: string; args: unknown[] }[] = [];
      if (version === 'v4') socket.onAny((event: string, ...args: unknown[]) => events.push({ event, args }));
      else for (const event of SERVER_EVENTS) (socket as any).on(event, (...args: unknown[]) => events.push({ event, args }));
      return new Promise((resolve, reject) => {
        socket.once('ok', (ok) => resolve({ socket, events, ok }));
        onRefusal(socket, (error) => {
          socket.close();
          reject(error);
        });
      });
    },
    refusal(port, namespace, query) {
      const socket = open(port, namespace, query);
      return new Promise((resolve, reject) => {
        socket.once('connect', () => {
          socket.close();
          reject(new Error('connected, expected a refusal'));
        });
        onRefusal(socket, (error) => {
          socket.close();
          resolve(error);
        });
      });
    },
  };
}

const v4 = clients('v4');
/** Opens a stock socket.io v4 client (see {@link Clients.connect}). */
export const connectClient = v4.connect;
/** Resolves with the `connect_error` a v4 handshake gets (and fails if it connects instead). */
export const connectError = v4.refusal;

export function emitWithAck(socket: TestSocket, event: 'joinRoom' | 'leaveRoom', payload: unknown): Promise<EventAck> {
  return new Promise((resolve) => (socket.emit as (...a: unknown[]) => void)(event, payload, resolve));
}

/**
 * An iOS client that joins `room`, registers `deviceToken` (when given) and goes offline again:
 * the offline step reaches it through APNs. Resolves once its record says it is offline.
 */
export async function offlineIosMember(
  port: number,
  namespace: string,
  uuid: string,
  room: string,
  deviceToken: string | undefined,
  isOffline: (clientId: string) => Promise<boolean>,
): Promise<string> {
  const c = await connectClient(port, namespace, { uuid, platform: 'ios' });
  await emitWithAck(c.socket, 'joinRoom', room);
  if (deviceToken) await new Promise((r) => c.socket.emit('info', { device_token: deviceToken }, r));
  const gone = new Promise((r) => c.socket.once('disconnect', r));
  c.socket.close();
  await gone;
  const deadline = Date.now() + 10_000;
  while (!(await isOffline(c.ok.clientId))) {
    if (Date.now() > deadline) throw new Error(`${c.ok.clientId} still online after 10 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return c.ok.clientId;
}
