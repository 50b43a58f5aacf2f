/*
 * B-sio for the chat scenario (S8): a bare socket.io 4 server with @socket.io/redis-adapter doing
 * the job of seed 004's server the way one would write it by hand for several processes — and
 * nothing else: root namespace on path `/wechat`, `connected {socketId}`, `logIn` (a token in a
 * Map of this process, the user's room joined, its online count in one Redis hash),
 * `message/direct` (online targets read from that hash with one HMGET, the message emitted to
 * their rooms through the adapter, the seed's `{statusCode: 201, body: {id, sent}}` ack). No
 * storage, no inbox, no reports, no APNs. argv: <redisUrl>.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { serve } from '../lib/ipc.mjs';

const [redisUrl] = process.argv.slice(2);
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const state = new Redis(redisUrl);
const ONLINE = 'bchat:online';
const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'hello' : '');
});
const io = new Server(http, { path: '/wechat', adapter: createAdapter(pub, sub, { key: 'bchat' }) });
const tokens = new Map();
let messages = 0;

io.on('connection', (socket) => {
  let user;
  socket.emit('connected', { socketId: socket.id });
  socket.on('logIn', async ({ userId, socketId } = {}, ack) => {
    if (typeof userId !== 'string' || socketId !== socket.id) return ack?.({ statusCode: 400, body: {} });
    user = userId;
    const sessionToken = randomBytes(16).toString('hex');
    tokens.set(sessionToken, userId);
    socket.data.token = sessionToken;
    socket.join(`user_${userId}`);
    await state.hincrby(ONLINE, userId, 1);
    ack?.({ statusCode: 200, body: { userId, socketId, sessionToken } });
  });
  socket.on('message/direct', async (payload, ack) => {
    const from = tokens.get(payload?.sessionToken);
    if (!from || !Array.isArray(payload.targetIds)) return ack?.({ statusCode: 401, body: {} });
    const { sessionToken: _omitted, ...metaData } = payload;
    metaData.from = from;
    const id = randomBytes(5).toString('hex');
    const targets = [...new Set(payload.targetIds)];
    const counts = await state.hmget(ONLINE, ...targets);
    const sent = { online: [], offline: [] };
    targets.forEach((target, i) => (Number(counts[i]) > 0 ? sent.online : sent.offline).push(target));
    if (sent.online.length) io.to(sent.online.map((target) => `user_${target}`)).emit('message', { metaData, id });
    messages++;
    ack?.({ statusCode: 201, body: { id, sent } });
  });
  socket.on('disconnect', () => {
    if (socket.data.token) tokens.delete(socket.data.token);
    if (user) void state.hincrby(ONLINE, user, -1);
  });
});

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({ stats: () => ({ sockets: io.of('/').sockets.size, messages }) }, { port: http.address().port }, async () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  state.disconnect();
});
