/**
 * The namespace's disconnect callback, end to end with real processes: the connector queues it,
 * the worker POSTs it with the seed's headers and body (issue 3, item 7).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startService, type ServiceProcess } from '@herald/test-support';
import { io } from 'socket.io-client';
import { ADMIN, startStack, type Stack } from './support/stack';

let stack: Stack;
let worker: ServiceProcess;
let server: Server;
const received: { headers: IncomingHttpHeaders; body: unknown }[] = [];
let onRequest: () => void = () => undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(text) });
      res.writeHead(200).end();
      onRequest();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stack = await startStack({ connectors: 1 });
  worker = await startService('worker', { env: stack.env });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gone`;
  await stack.api('/api/admin/namespace/save', {
    auth: ADMIN,
    body: { key: '/cbd', auth_passwd: 'pw', disconnect_callback: url, callback_auth: 'secret-token' },
  });
});
afterAll(async () => {
  expect(await worker.stop()).toBe(0);
  await stack.stop();
  await new Promise<void>((r) => server.close(() => r()));
});

test('a client that disconnects is reported to the disconnect callback with its query, cookie and the callback auth', async () => {
  const socket = io(`http://127.0.0.1:${stack.connectors[0]!.port}/cbd`, {
    query: { uuid: 'bye1', userid: 'leaver' },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    extraHeaders: { cookie: 'session=abc' },
  });
  await new Promise((resolve) => socket.once('ok', resolve));
  const delivered = new Promise<void>((resolve) => (onRequest = resolve));
  socket.close();
  await delivered;
  expect(received).toHaveLength(1);
  expect(received[0]!.headers).toMatchObject({ authorization: 'secret-token', namespace: '/cbd', cookie: 'session=abc' });
  expect(received[0]!.body).toEqual({ query: expect.objectContaining({ uuid: 'bye1', userid: 'leaver' }) });
  // No secret reached a log line of any process.
  for (const service of [worker, ...stack.connectors, stack.logic]) {
    const text = JSON.stringify(service.logs) + service.raw.join('');
    expect(text).not.toContain('secret-token');
    expect(text).not.toContain('session=abc');
  }
});
