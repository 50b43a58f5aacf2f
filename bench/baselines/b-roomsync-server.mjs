/*
 * B-sio roomsync server: seed 000's room sync on a bare socket.io 4 server with
 * @socket.io/redis-adapter — what Herald's roomsync protocol does, without token check, rate limit,
 * kickout, cluster rosters, retention or the core (identity, records, metrics). Clients connect to
 * `/`: `authenticate` (any token), `join`, `msg` (RPUSH or HSET, then relay to the room minus the
 * sender), `sync` (pages of 200, the updates on the last page: the seed's model.js).
 * argv: <redisUrl>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { serve } from '../lib/ipc.mjs';

const [redisUrl] = process.argv.slice(2);
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const store = pub.duplicate();
const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'hello' : '');
});
const io = new Server(http, { adapter: createAdapter(pub, sub, { key: 'brs' }), maxHttpBufferSize: 1e6 });
const PAGE = 200;

io.on('connection', (socket) => {
  let uid;
  let room;
  socket.on('authenticate', (data) => {
    uid = data?.uid;
    socket.emit('authenticate', { status: 0, data: 'auth success' });
  });
  socket.on('join', (msg) => {
    if (uid === undefined) return;
    room = String(msg?.roomId);
    socket.join(room);
    socket.emit('join', { status: 0, data: 'join success' });
    socket.to(room).emit('remote_join', { uid });
  });
  socket.on('msg', async (msg) => {
    if (room === undefined || msg === null || typeof msg !== 'object') return;
    msg.uid = uid;
    const entry = JSON.stringify({ data: msg, ts: Math.floor(Date.now() / 1000), uid });
    if (msg.storage === 1) await store.hset(`msg_${room}_update`, String(msg.msgId), entry);
    else await store.rpush(`msg_${room}_insert`, entry);
    socket.to(room).emit('msg', msg);
  });
  socket.on('sync', async (msg) => {
    if (room === undefined) return;
    const offset = Math.max(0, parseInt(msg?.offset, 10) || 0);
    const data = (await store.lrange(`msg_${room}_insert`, offset, offset + PAGE - 1)).map((v) => JSON.parse(v).data);
    let next = 1;
    if (data.length < PAGE) {
      next = 0;
      for (const v of Object.values(await store.hgetall(`msg_${room}_update`))) data.push(JSON.parse(v).data);
    }
    socket.emit('sync', { data, offset: offset + data.length, next });
  });
});

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({ stats: () => ({ sockets: io.of('/').sockets.size }) }, { port: http.address().port }, async () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  store.disconnect();
});
