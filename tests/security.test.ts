/**
 * Secrets and tenants (issue 7): no log line of any process and no API answer carries a password,
 * an APNs key or certificate, a callback secret or an Authorization header (a device token only
 * where a namespace reads its own client back); and one namespace's credentials reach nothing of
 * another namespace through any `/api/auth/*` route.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startService, until, type ServiceProcess } from '@herald/test-support';
import { Keys } from '@herald/store';
import { basic, connectClient, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, ADMIN_PASSWORD, startStack, type Stack } from './support/stack';

const mark = (name: string) => `${name}${randomBytes(6).toString('hex')}`;
const SECRETS = {
  passwordA: mark('PWA'),
  passwordB: mark('PWB'),
  callbackAuth: mark('CBAUTH'),
  apnsKey: `-----BEGIN PRIVATE KEY-----\n${mark('APNSKEY')}\n-----END PRIVATE KEY-----`,
  apnsCert: `-----BEGIN CERTIFICATE-----\n${mark('APNSCERT')}\n-----END CERTIFICATE-----`,
  deviceToken: randomBytes(32).toString('hex'),
};
const MARK_B = mark('BDATA');
const A = basic('/sa', SECRETS.passwordA);
const B = basic('/sb', SECRETS.passwordB);

let stack: Stack;
let worker: ServiceProcess;
let redis: Redis;
const clients: Recorded[] = [];
const answers: { route: string; text: string }[] = [];

async function call(method: string, path: string, auth: string | undefined, body?: unknown) {
  const response = await fetch(`http://127.0.0.1:${stack.logic.port}${path}`, {
    method,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  answers.push({ route: `${method} ${path}`, text });
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

/** Every key of namespace /sb with its content, to prove A changed nothing of B. */
async function namespaceB(): Promise<string> {
  const keys = (await redis.keys('*')).filter((k) => k.includes('/sb')).sort();
  const out: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    const content =
      type === 'hash' ? Object.entries(await redis.hgetall(key)).sort()
      : type === 'set' ? (await redis.smembers(key)).sort()
      : type === 'zset' ? await redis.zrange(key, 0, -1)
      : type === 'list' ? await redis.lrange(key, 0, -1)
      : await redis.get(key);
    out.push(`${key} ${JSON.stringify(content)}`);
  }
  return out.join('\n');
}

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_OFFLINE_DELAY_MS: '200' } });
  worker = await startService('worker', { env: stack.env });
  redis = new Redis(stack.redis.url);
  await call('POST', '/api/admin/namespace/save', ADMIN, {
    key: '/sa',
    auth_passwd: SECRETS.passwordA,
    callback_auth: SECRETS.callbackAuth,
    apns_list: [{ name: 'app', apns_env: 'dev', apns_topic: 't', apns_dev_cert: SECRETS.apnsCert, apns_dev_key: SECRETS.apnsKey }],
  });
  await call('POST', '/api/admin/namespace/save', ADMIN, { key: '/sb', auth_passwd: SECRETS.passwordB });
  const a = await connectClient(stack.connectors[0]!.port, '/sa', { uuid: 'ua', platform: 'ios' });
  const b = await connectClient(stack.connectors[0]!.port, '/sb', { uuid: 'ub', platform: 'android' });
  clients.push(a, b);
  await new Promise((r) => a.socket.emit('info', { device_token: SECRETS.deviceToken }, r));
  for (const c of [a, b]) await emitWithAck(c.socket, 'joinRoom', 'shared');
  const pushedB = await call('POST', '/api/auth/push', B, { room: 'shared', pushData: { secret: MARK_B }, leaveMessage: true });
  await call('POST', '/api/auth/push', A, { room: 'shared', pushData: { n: 1 }, leaveMessage: true, apnsName: 'app' });
  // B's data must be at rest before a test snapshots it: the offline step of B's push (due after
  // HERALD_OFFLINE_DELAY_MS) writes its summary into the report when it has run.
  const reportB = new Keys('h:').message('/sb', pushedB.body.id);
  await until(async () => (await redis.hget(reportB, 'offline')) ?? undefined, 15_000);
});
afterAll(async () => {
  for (const c of clients) c.socket.close();
  await redis.quit();
  expect(await worker.stop()).toBe(0);
  await stack.stop();
});

test('namespace A’s credentials reach nothing of namespace B through any /api/auth route', async () => {
  const before = await namespaceB();
  const bClient = encodeURIComponent('/sb#ub#android-ub');
  const tries: [string, string, unknown?][] = [
    ['GET', '/api/auth/report/push'],
    ['GET', '/api/auth/report/push/1?ackDetail=true'],
    ['GET', '/api/auth/report/online?room=shared&detail=true'],
    ['GET', '/api/auth/report/online?detail=true'],
    ['GET', '/api/auth/namespace/current-message-stat'],
    ['GET', `/api/auth/client/${bClient}`],
    ['POST', '/api/auth/client', { id: '/sb#ub#android-ub', device_token: 'ff' }],
    ['POST', '/api/auth/client', { id: '/sb#ub#android-ub' }],
    ['POST', '/api/auth/transfer', { sourceRooms: ['shared'], targetRoom: 'moved', type: 'join' }],
    ['POST', '/api/auth/transfer', { sourceRooms: ['shared'], targetRoom: 'shared', type: 'leave' }],
    ['POST', '/api/auth/room-apns', { room: 'shared', add: ['x'] }],
    ['POST', '/api/auth/room-leave-message', { room: 'shared', leaveMessage: false }],
    ['GET', '/api/auth/namespace'],
    ['POST', '/api/auth/namespace/save', { key: '/sb', name: 'taken' }],
    ['POST', '/api/auth/push', { room: 'shared', pushData: { n: 2 } }],
  ];
  for (const [method, path, body] of tries) {
    const { status, text } = await call(method, path, A, body);
    expect(status).toBeLessThan(500);
    expect(text).not.toContain(MARK_B);
    expect(text).not.toContain('/sb#');
  }
  expect(await namespaceB()).toBe(before);
});

test('no secret in any answer or any log line of any process', async () => {
  // Failed logins too: their Authorization headers must not be logged either.
  await call('POST', '/api/auth/login', basic('/sa', 'wrong-' + SECRETS.passwordB));
  await call('POST', '/api/admin/login', basic('admin', 'x' + ADMIN_PASSWORD));
  const own = await call('GET', `/api/auth/client/${encodeURIComponent('/sa#ua#ios-ua')}`, A);
  expect(own.body.device_token).toBe(SECRETS.deviceToken); // the one place a token may be read back
  const namespace = await call('GET', '/api/auth/namespace', A);
  expect(namespace.body.apns_list[0]).toMatchObject({ name: 'app', apns_dev_key: true, apns_dev_cert: true });

  const secrets = [
    SECRETS.passwordA,
    SECRETS.passwordB,
    ADMIN_PASSWORD,
    SECRETS.callbackAuth,
    SECRETS.apnsKey.split('\n')[1]!,
    SECRETS.apnsCert.split('\n')[1]!,
    A.slice('Basic '.length),
    B.slice('Basic '.length),
    ADMIN.slice('Basic '.length),
  ];
  for (const answer of answers) for (const secret of secrets) expect(`${answer.route} ${answer.text}`).not.toContain(secret);
  for (const answer of answers.filter((a) => !a.route.startsWith('GET /api/auth/client/'))) expect(answer.text).not.toContain(SECRETS.deviceToken);
  for (const service of [stack.logic, ...stack.connectors, worker]) {
    const text = JSON.stringify(service.logs) + service.raw.join('');
    for (const secret of [...secrets, SECRETS.deviceToken]) expect(text).not.toContain(secret);
  }
});
