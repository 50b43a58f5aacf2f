/*
 * B-sessions server: seed 003 (yunity-sockets) on socket.io 4 — the bare job of Herald's sessions
 * protocol and nothing else: `path: '/socket'`, `authenticate {sessionId}` → GET
 * `session-store-<id>` → join `room:<userId>`; keyspace notifications re-bind a session's local
 * sockets; every process subscribes to `notifications` and emits to its local sockets of the named
 * users (the seed's own way of running several nodes). No client records, no admin view, no
 * metrics. argv: <redisUrl>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { serve } from '../lib/ipc.mjs';

const [redisUrl] = process.argv.slice(2);
const PREFIX = 'session-store-';
const redis = new Redis(redisUrl);
const sub = new Redis(redisUrl);
const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'hello' : '');
});
const io = new Server(http, { path: '/socket', serveClient: false });
/** sessionId → sockets */
const bySession = new Map();
let delivered = 0;

function bindUser(socket, userId) {
  if (socket.data.userId === userId) return;
  if (socket.data.userId !== undefined) socket.leave(`room:${socket.data.userId}`);
  socket.data.userId = userId;
  if (userId !== undefined) socket.join(`room:${userId}`);
}

io.on('connection', (socket) => {
  socket.data = {};
  socket.on('authenticate', async (payload) => {
    const sessionId = payload?.sessionId;
    if (typeof sessionId !== 'string') return;
    socket.data.sessionId = sessionId;
    let sockets = bySession.get(sessionId);
    if (!sockets) bySession.set(sessionId, (sockets = new Set()));
    sockets.add(socket);
    bindUser(socket, (await redis.get(PREFIX + sessionId)) ?? undefined);
  });
  socket.on('disconnect', () => {
    const sockets = bySession.get(socket.data.sessionId);
    sockets?.delete(socket);
    if (sockets?.size === 0) bySession.delete(socket.data.sessionId);
  });
});

await redis.config('SET', 'notify-keyspace-events', 'KA');
sub.on('pmessage', async (_pattern, channel, event) => {
  const sessionId = channel.slice(channel.indexOf('__:') + 3 + PREFIX.length);
  const sockets = bySession.get(sessionId);
  if (!sockets) return;
  const userId = event === 'set' ? ((await redis.get(PREFIX + sessionId)) ?? undefined) : undefined;
  for (const socket of sockets) bindUser(socket, userId);
});
sub.on('message', (_channel, text) => {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return;
  }
  if (!Array.isArray(message?.users) || message.data === undefined) return;
  const rooms = message.users.map((user) => `room:${user}`);
  for (const room of rooms) delivered += io.sockets.adapter.rooms.get(room)?.size ?? 0;
  io.to(rooms).emit('message', message.data);
});
// Subscribe once connected: a subscription queued before ioredis' ready check (INFO) puts the
// connection in subscriber mode first, and the check then fails the process at start.
if (sub.status !== 'ready') await new Promise((resolve) => sub.once('ready', resolve));
await sub.psubscribe(`__keyspace@0__:${PREFIX}*`);
await sub.subscribe('notifications');

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({ stats: () => ({ sockets: io.sockets.sockets.size, delivered }) }, { port: http.address().port }, async () => {
  io.close();
  redis.disconnect();
  sub.disconnect();
});
