/*
 * B-ws push endpoint: POST /push {room, pushData} → one PUBLISH of "<room>\n<message json>" on the
 * B-ws servers' channel. Answers {id}. argv: <redisUrl>.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { serve } from '../lib/ipc.mjs';

const [redisUrl] = process.argv.slice(2);
const redis = new Redis(redisUrl);
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
    const message = { id: ++id, namespace: '/', room: body.room, pushData: body.pushData, sendDate: Date.now() };
    redis.publish('bws', `${body.room}\n${JSON.stringify(message)}`);
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
