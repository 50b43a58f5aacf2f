/**
 * Webservice protocol (seed 001) test support: the seed's client (stock socket.io v4, or v2 as the
 * seed's apps used), an `auth_url` server with one answer per token, and the `update_user_url`
 * receiver.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from '@herald/test-support';
import { io, type Socket } from 'socket.io-client';
import type { ClientVersion } from './clients';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, options: object) => unknown = require('socket.io-client-v2');

/** One event a client got: its name, its arguments, and the ack callback when the server asked for one. */
export interface Got {
  readonly event: string;
  readonly args: unknown[];
  readonly ack: ((...args: unknown[]) => void) | undefined;
}

export interface WsClient {
  readonly socket: Socket;
  readonly got: Got[];
  /** Resolves with the n-th (0-based) event of that name, waiting for it. */
  nth(event: string, n?: number, timeoutMs?: number): Promise<Got>;
  /** Every event of that name so far. */
  all(event: string): Got[];
  close(): Promise<void>;
}

/** Event names a v2 socket records (it has no `onAny`). */
export const RECORDED_EVENTS = ['_settings', '_batch', '_resync', 'update_store', 'message', 'other', 'push', 'ev'];

function open(version: ClientVersion, port: number, namespace: string, query: Record<string, string>): Socket {
  const url = `http://127.0.0.1:${port}${namespace}`;
  const options = { query, transports: ['websocket'], reconnection: false, forceNew: true };
  return version === 'v4' ? io(url, options) : (ioV2(url, options) as Socket);
}

function record(version: ClientVersion, socket: Socket, got: Got[]): void {
  const push = (event: string, args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (...a: unknown[]) => void) : undefined;
    got.push({ event, args: ack ? args.slice(0, -1) : args, ack });
  };
  if (version === 'v4') socket.onAny((event: string, ...args: unknown[]) => push(event, args));
  else for (const event of RECORDED_EVENTS) (socket as unknown as { on(e: string, l: (...a: unknown[]) => void): void }).on(event, (...args) => push(event, args));
}

/**
 * Opens a client as the seed's apps did (`io('http://host/<site>?token=…&deviceId=…&meta=…')`);
 * resolves once connected, rejects with the refusal (its message is the seed's text).
 */
export function wsConnect(version: ClientVersion, port: number, namespace: string, query: Record<string, string>): Promise<WsClient> {
  const socket = open(version, port, namespace, query);
  const got: Got[] = [];
  record(version, socket, got);
  const client: WsClient = {
    socket,
    got,
    all: (event) => got.filter((g) => g.event === event),
    nth: (event, n = 0, timeoutMs = 5000) => until(async () => got.filter((g) => g.event === event)[n], timeoutMs),
    close: async () => {
      if (!socket.connected) return void socket.close();
      const gone = new Promise((r) => socket.once('disconnect', r));
      socket.close();
      await gone;
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    const refused = (error: unknown) => {
      socket.close();
      reject(typeof error === 'string' ? new Error(error) : error instanceof Error ? error : new Error(JSON.stringify(error)));
    };
    socket.once('connect_error', refused);
    // v2 reports a middleware refusal as `error` with the message.
    if (version === 'v2') (socket as unknown as { once(e: string, l: (p: unknown) => void): void }).once('error', refused);
  });
}

/** The refusal text a handshake gets (fails when it connects). */
export async function wsRefusal(version: ClientVersion, port: number, namespace: string, query: Record<string, string>): Promise<string> {
  try {
    const client = await wsConnect(version, port, namespace, query);
    await client.close();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('connected, expected a refusal');
}

/** One request the auth server or the user-update receiver got. */
export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * The third-party site: `GET /rooms` answers by the token of `Authorization: Bearer <token>`
 * (`rooms[token]`: an array of rooms, or `{status, body}`, or `'hang'`), `PUT /users/:id` records
 * the user updates.
 */
export interface Site {
  readonly url: string;
  /** The next this many user updates are answered 503 (a receiver that is down for a while). */
  failPuts: number;
  readonly received: Received[];
  readonly rooms: Map<string, unknown>;
  close(): Promise<void>;
}

export async function startSite(): Promise<Site> {
  const received: Received[] = [];
  const rooms = new Map<string, unknown>();
  const site = { url: '', received, rooms, failPuts: 0, close: async () => undefined } as Site;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/users/')) {
        if (site.failPuts > 0) {
          site.failPuts--;
          return void res.writeHead(503).end();
        }
        return void res.writeHead(200).end();
      }
      const token = /^\S+ (.*)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const answer = rooms.get(token);
      if (answer === 'hang') return;
      if (Array.isArray(answer)) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      if (answer && typeof answer === 'object') {
        const { status, body: text } = answer as { status: number; body: string };
        return void res.writeHead(status).end(text);
      }
      res.writeHead(401).end('{"error":"who are you"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(site, {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
  return site;
}

/** `POST /send` as the seed's servers call it; answers status and plain text. */
export async function send(
  logicPort: number,
  query: string,
  body: unknown,
  contentType: 'json' | 'form' = 'json',
): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(`http://127.0.0.1:${logicPort}/send?${query}`, {
    method: 'POST',
    headers: { 'content-type': contentType === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: contentType === 'json' ? JSON.stringify(body) : (body as string),
  });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}
