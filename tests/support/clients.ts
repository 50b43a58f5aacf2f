import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, EventAck, OkPayload, ServerToClientEvents } from '@herald/protocol';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** Every event a client received, in order, for "this and nothing else" assertions. */
export interface Recorded {
  readonly socket: TestSocket;
  readonly events: { event: string; args: unknown[] }[];
}

/**
 * Opens a stock socket.io v4 client on a namespace of a connector; resolves on `ok`. `headers` go
 * with the handshake (a browser's `cookie` or `origin`).
 */
export function connectClient(
  port: number,
  namespace: string,
  query: Record<string, string>,
  headers?: Record<string, string>,
): Promise<Recorded & { ok: OkPayload }> {
  const socket: TestSocket = io(`http://127.0.0.1:${port}${namespace}`, {
    query,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(headers ? { extraHeaders: headers } : {}),
  });
  const events: { event: string; args: unknown[] }[] = [];
  socket.onAny((event: string, ...args: unknown[]) => events.push({ event, args }));
  return new Promise((resolve, reject) => {
    socket.once('ok', (ok) => resolve({ socket, events, ok }));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Resolves with the `connect_error` a handshake gets (and fails if it connects instead). */
export function connectError(port: number, namespace: string, query: Record<string, string>): Promise<Error & { data?: unknown }> {
  const socket: TestSocket = io(`http://127.0.0.1:${port}${namespace}`, {
    query,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.close();
      reject(new Error('connected, expected a connect_error'));
    });
    socket.once('connect_error', (error) => {
      socket.close();
      resolve(error as Error & { data?: unknown });
    });
  });
}

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
