/*
 * B-sio for the webservice scenario (S9): a bare socket.io 4 server with @socket.io/redis-adapter
 * doing the job of seed 001's server the way one would write it by hand for several processes —
 * and nothing else: namespace /bench, the `auth_url` handshake (GET with `Authorization: Bearer
 * <token>`, join the returned rooms), `_settings`, and `POST /send` that stores the message in the
 * device's Redis list (the seed's `<id>:<json>` items), tells every process through the adapter,
 * and emits it with an ack callback that removes the item (LREM). No expansion of shared rooms,
 * no ordering guarantees across processes, no pruning, no reports. argv: <redisUrl> <authUrl> <apiKey>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { serve } from '../lib/ipc.mjs';

const [redisUrl, authUrl, apiKey] = process.argv.slice(2);
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const state = new Redis(redisUrl);
let sent = 0;
const queue = (device) => `bws:q:${device}`;

const http = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method !== 'POST' || url.pathname !== '/send') {
    res.writeHead(url.pathname === '/healthcheck' ? 200 : 404, { 'content-type': 'text/plain' });
    return void res.end(url.pathname === '/healthcheck' ? 'ok' : '');
  }
  let text = '';
  req.on('data', (c) => (text += c));
  req.on('end', async () => {
    if (url.searchParams.get('apiKey') !== apiKey) return void res.writeHead(401).end('ApiKey invalid.');
    const body = JSON.parse(text);
    const args = [].concat(body.args);
    const devices = [];
    for (const room of [].concat(body.rooms)) {
      const deviceIds = await state.smembers(`bws:dev:${room}`);
      for (const deviceId of deviceIds) {
        const device = `${room}|${deviceId}`;
        const id = await state.incr('bws:seq');
        const item = `${id}:${JSON.stringify([body.event, ...args])}`;
        await state.rpush(queue(device), item);
        devices.push([device, item]);
      }
    }
    const delivery = { event: body.event, args, devices };
    deliver(delivery);
    nsp.serverSideEmit('deliver', delivery);
    sent++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
  });
});
const io = new Server(http, { adapter: createAdapter(pub, sub, { key: 'bws' }) });
const nsp = io.of('/bench');

function deliver({ event, args, devices }) {
  for (const [device, item] of devices) {
    for (const sid of nsp.adapter.rooms.get(`w:${device}`) ?? []) {
      nsp.sockets.get(sid)?.emit(event, ...args, () => void state.lrem(queue(device), 1, item));
    }
  }
}
nsp.on('deliver', deliver);

nsp.use(async (socket, next) => {
  const { token, deviceId = '' } = socket.handshake.query;
  try {
    const response = await fetch(authUrl, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) return next(new Error(`Auth ${response.status} error`));
    const rooms = await response.json();
    socket.join(rooms);
    for (const room of rooms.filter((r) => r.startsWith('user_'))) {
      await state.sadd(`bws:dev:${room}`, deviceId);
      socket.join(`w:${room}|${deviceId}`);
    }
    next();
  } catch (error) {
    next(new Error(`Auth error: ${error}`));
  }
});
nsp.on('connection', (socket) => socket.emit('_settings', { device_ttl: 3600 }));

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({ stats: () => ({ sockets: nsp.sockets.size, sent }) }, { port: http.address().port }, async () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  state.disconnect();
});
