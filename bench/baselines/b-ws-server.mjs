/*
 * B-ws server: a bare `ws` server doing the same fan-out with as little as Node allows — rooms are
 * in-process maps, a push arrives on a plain Redis channel as "<room>\n<json>" and its JSON is
 * written unchanged to every socket of the room (one Buffer, no re-serialisation). The practical
 * ceiling for Node. A client connects to ws://host:port/?uuid=&userid=&rooms=a,b and gets
 * {"ok":{…}}; pushes are the JSON message itself; {"ack":id} is counted. argv: <redisUrl>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import { serve } from '../lib/ipc.mjs';

const [redisUrl] = process.argv.slice(2);
const sub = new Redis(redisUrl);
const rooms = new Map();
let acks = 0;
let sockets = 0;

const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404).end(req.url === '/health' ? 'hello' : '');
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });

function join(room, ws) {
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(ws);
}

wss.on('connection', (ws, req) => {
  const query = new URL(req.url, 'http://x').searchParams;
  const uuid = query.get('uuid') ?? '';
  const user = query.get('userid') || uuid;
  const joined = [`user_${user}`, ...(query.get('rooms') ? query.get('rooms').split(',') : [])];
  for (const room of joined) join(room, ws);
  sockets++;
  ws.on('message', (data) => {
    if (data.length < 40 && data.toString().startsWith('{"ack"')) acks++;
  });
  ws.on('close', () => {
    sockets--;
    for (const room of joined) rooms.get(room)?.delete(ws);
  });
  ws.send(JSON.stringify({ ok: { system: 'b-ws', clientId: `${user}-${uuid}` } }));
});

sub.on('messageBuffer', (_channel, payload) => {
  const cut = payload.indexOf(10);
  const members = rooms.get(payload.subarray(0, cut).toString());
  if (!members) return;
  const frame = payload.subarray(cut + 1);
  for (const ws of members) ws.send(frame, { binary: false });
});
await sub.subscribe('bws');

await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
serve({ stats: () => ({ sockets, acks }) }, { port: http.address().port }, async () => {
  for (const ws of wss.clients) ws.terminate();
  sub.disconnect();
});
