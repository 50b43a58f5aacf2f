/*
 * B-sio push endpoint: a bare Node HTTP server that publishes each POST /push {room, pushData} to
 * the B-sio servers through @socket.io/redis-emitter — Herald's REST → emitter path without auth,
 * validation, storage or reports. Answers {id}. argv: <redisUrl> <namespace>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { serve } from '../lib/ipc.mjs';

const [redisUrl, namespace = '/bench'] = process.argv.slice(2);
const redis = new Redis(redisUrl);
const emitter = new Emitter(redis, { key: 'bsio' }).of(namespace);
let id = 0;

const http = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/push') {
    res.writeHead(req.url === '/health' ? 200 : 404).end(req.url === '/health' ? 'hello' : '');
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const message = { id: ++id, namespace, room: body.room, pushData: body.pushData, sendDate: Date.now() };
    emitter.to(body.room).emit('push', message);
    const answer = `{"id":${message.id}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer);
  });
});
http.keepAliveTimeout = 60_000;

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({}, { port: http.address().port }, async () => {
  http.closeAllConnections();
  redis.disconnect();
});
