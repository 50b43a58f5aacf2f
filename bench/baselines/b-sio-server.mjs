/*
 * B-sio server: a bare socket.io 4 server with @socket.io/redis-adapter and nothing else — the
 * stack Herald's connector is built on, without identity, presence, rooms in Redis or reports.
 * It speaks the events the bench clients use: `ok` on connect, `joinRoom` with an ack, `ackPush`
 * (counted, nothing stored), `push` from the emitter. Every socket is in `user_<userid>` like a
 * Herald client. argv: <redisUrl> <namespace>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { serve } from '../lib/ipc.mjs';

const [redisUrl, namespace = '/bench'] = process.argv.slice(2);
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'hello' : '');
});
const io = new Server(http, { adapter: createAdapter(pub, sub, { key: 'bsio' }) });
let acks = 0;

io.of(namespace).on('connection', (socket) => {
  const { uuid, userid } = socket.handshake.query;
  const user = String(userid ?? uuid ?? socket.id);
  socket.join(`user_${user}`);
  socket.on('joinRoom', (rooms, ack) => {
    socket.join(Array.isArray(rooms) ? rooms : [rooms]);
    if (typeof ack === 'function') ack({ status: 200, msg: 'ok' });
  });
  socket.on('ackPush', () => {
    acks++;
  });
  socket.emit('ok', { system: 'b-sio', port: http.address().port, clientId: `${namespace}#${user}#web-${uuid}` });
});

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({ stats: () => ({ sockets: io.of(namespace).sockets.size, acks }) }, { port: http.address().port }, async () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
});
