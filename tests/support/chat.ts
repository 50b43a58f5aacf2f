import { io } from 'socket.io-client';
import { until } from '@herald/test-support';

// socket.io-client@2 (Engine.IO 3), installed under an alias beside v4; it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, options: object) => ChatSocket = require('socket.io-client-v2');

/** The surface of a v2 or v4 socket the chat tests use (seed 004's clients were v2). */
export interface ChatSocket {
  id: string;
  connected: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  close(): unknown;
}

export interface ChatClient {
  readonly socket: ChatSocket;
  /** From `connected {socketId}`. */
  readonly socketId: string;
  /** Every `message` event, in order. */
  readonly messages: any[];
}

/**
 * A seed 004 client: the root namespace on path `/wechat` of the connector on `port`; resolves on
 * `connected`. Every socket opened is added to `opened` (to close at the end).
 */
export async function chatClient(port: number, opened: ChatSocket[], version: 'v2' | 'v4' = 'v2'): Promise<ChatClient> {
  const url = `http://127.0.0.1:${port}`;
  const options = { path: '/wechat', transports: ['websocket'], reconnection: false, forceNew: true };
  const socket = version === 'v2' ? ioV2(url, options) : (io(url, options) as unknown as ChatSocket);
  opened.push(socket);
  const messages: any[] = [];
  socket.on('message', (message: unknown) => messages.push(message));
  const { socketId } = await new Promise<{ socketId: string }>((resolve, reject) => {
    socket.once('connected', resolve);
    socket.once('connect_error', reject);
    socket.once('error', reject);
  });
  return { socket, socketId, messages };
}

/** Emits with an ack and resolves with the answer (fails after 5 s: the seed's silence is a bug here). */
export function call(socket: ChatSocket, event: string, ...payload: unknown[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 5000);
    socket.emit(event, ...payload, (answer: unknown) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

/** The first `count` messages the client got, once it has them. */
export function nextMessage(client: ChatClient, count = 1): Promise<any[]> {
  return until(async () => (client.messages.length >= count ? client.messages.slice(0, count) : undefined), 5000);
}
