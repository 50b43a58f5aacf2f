/**
 * Offline delivery with real processes (issue 5): the delayed offline step puts unacked messages in
 * inboxes (Android) and APNs jobs (iOS); a reconnecting client gets its inbox before `ok`.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { startService, until, type ServiceProcess } from '@herald/test-support';
import { basic, connectClient, emitWithAck } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';
import { io } from 'socket.io-client';

const keys = new Keys('h:');
const AUTH = basic('/off', 'pw');
let stack: Stack;
let worker: ServiceProcess;
let redis: Redis;
let apnsQueue: Queue;

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_OFFLINE_DELAY_MS: '300' } });
  worker = await startService('worker', { env: stack.env });
  redis = new Redis(stack.redis.url);
  apnsQueue = new Queue('apns', { connection: redis, prefix: 'h:q' });
  await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/off', auth_passwd: 'pw' } });
});
afterAll(async () => {
  await apnsQueue.close();
  await redis.quit();
  expect(await worker.stop()).toBe(0);
  await stack.stop();
});

const port = () => stack.connectors[0]!.port;

/** A member of `rooms` that then goes offline. */
async function member(uuid: string, platform: 'android' | 'ios' | 'web', rooms: string[], info?: object): Promise<string> {
  const c = await connectClient(port(), '/off', { uuid, platform });
  await emitWithAck(c.socket, 'joinRoom', rooms);
  if (info) await new Promise((r) => c.socket.emit('info', info, r));
  const gone = new Promise((r) => c.socket.once('disconnect', r));
  c.socket.close();
  await gone;
  await until(async () => ((await redis.hget(keys.client(c.ok.clientId), 'sid')) === null ? true : undefined));
  return c.ok.clientId;
}

async function push(room: string, extra: object = {}): Promise<number> {
  const { status, body } = await stack.api('/api/auth/push', { auth: AUTH, body: { room, pushData: { room }, leaveMessage: true, ...extra } });
  expect(status).toBe(200);
  return body.id;
}

/** Waits for the offline step of a message and returns its summary (`inbox:N apns:M`). */
async function offlineDone(id: number): Promise<string> {
  return until(async () => (await redis.hget(keys.message('/off', id), 'offline')) ?? undefined, 10_000);
}

/** Reconnects and records what arrives before `ok`. */
function reconnect(uuid: string, platform: string, ackReplay: boolean | number[]) {
  const socket = io(`http://127.0.0.1:${port()}/off`, { query: { uuid, platform }, transports: ['websocket'], forceNew: true, reconnection: false });
  const order: string[] = [];
  return new Promise<{ socket: typeof socket; order: string[]; offline: any[] }>((resolve) => {
    let offline: any[] = [];
    socket.on('offlineMessage', (messages: any[], ack: (ids?: number[]) => void) => {
      order.push('offlineMessage');
      offline = messages;
      if (ackReplay === true) ack();
      else if (Array.isArray(ackReplay)) ack(ackReplay);
    });
    socket.once('ok', () => {
      order.push('ok');
      resolve({ socket, order, offline });
    });
  });
}

test('Android: inbox → offlineMessage before ok → ack empties the inbox and counts in the report', async () => {
  const cid = await member('and1', 'android', ['news']);
  const id = await push('news');
  expect(await offlineDone(id)).toBe('inbox:1 apns:0');
  expect(await redis.zrange(keys.clientInbox(cid), 0, -1)).toEqual([String(id)]);

  const first = await reconnect('and1', 'android', false);
  expect(first.order).toEqual(['offlineMessage', 'ok']);
  expect(first.offline).toEqual([{ id, namespace: '/off', room: 'news', pushData: { room: 'news' }, sendDate: expect.any(Number) }]);
  first.socket.close();
  // Not acknowledged: offered again on the next connect.
  const second = await reconnect('and1', 'android', true);
  expect(second.offline.map((m) => m.id)).toEqual([id]);
  await until(async () => ((await redis.zcard(keys.clientInbox(cid))) === 0 ? true : undefined));
  const report = await until(async () => {
    const r = await stack.api(`/api/auth/report/push/${id}`, { auth: AUTH });
    return r.body.ackAndroidCount === 1 ? r.body : undefined;
  });
  expect(report.ackCount).toBe(1);
  second.socket.close();
});

test('oldest first; an expired entry is skipped without losing the others; ackPush removes one entry', async () => {
  const cid = await member('and2', 'android', ['multi']);
  const ids = [await push('multi'), await push('multi'), await push('multi')];
  for (const id of ids) await offlineDone(id);
  await redis.del(keys.message('/off', ids[1]!)); // expired
  const back = await reconnect('and2', 'android', false);
  expect(back.offline.map((m) => m.id)).toEqual([ids[0], ids[2]]);
  expect(await redis.zrange(keys.clientInbox(cid), 0, -1)).toEqual([String(ids[0]), String(ids[2])]);
  back.socket.emit('ackPush', { id: ids[2] });
  await until(async () => ((await redis.zcard(keys.clientInbox(cid))) === 1 ? true : undefined));
  back.socket.close();
});

test('an online client acking after the offline step leaves its inbox; an ack of a push without leaveMessage sends Redis no inbox removal', async () => {
  const online = await connectClient(port(), '/off', { uuid: 'late1', platform: 'android' });
  await emitWithAck(online.socket, 'joinRoom', 'late');
  const inboxKey = keys.clientInbox(online.ok.clientId);
  const kept = new Promise<any>((r) => online.socket.once('push', r));
  const id1 = await push('late');
  expect((await kept).id).toBe(id1);
  // Not acked before the offline step: the step puts it in the (online) client's inbox.
  expect(await offlineDone(id1)).toBe('inbox:1 apns:0');
  expect(await redis.zrange(inboxKey, 0, -1)).toEqual([String(id1)]);

  const monitor = await redis.monitor();
  const zrems: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'zrem' && args[1] === inboxKey) zrems.push(args.slice(2));
  });
  try {
    const live = new Promise<any>((r) => online.socket.once('push', r));
    const id2 = await push('late', { leaveMessage: false });
    online.socket.emit('ackPush', { id: (await live).id });
    await until(async () => ((await stack.api(`/api/auth/report/push/${id2}`, { auth: AUTH })).body.ackCount === 1 ? true : undefined));
    // The late ack of the first push: its id leaves the inbox. Removals leave the connector in
    // order on one connection, so one for id2 would have reached Redis before this one.
    online.socket.emit('ackPush', { id: id1 });
    await until(async () => ((await redis.zcard(inboxKey)) === 0 ? true : undefined));
    await until(async () => (zrems.length > 0 ? true : undefined));
    expect(zrems).toEqual([[String(id1)]]);
  } finally {
    monitor.disconnect();
    online.socket.close();
  }
});

test('one client with leaveMessage:false does not stop the others; ackers and except get nothing', async () => {
  const a = await member('grp1', 'android', ['grp']);
  const quiet = await member('grp2', 'android', ['grp'], { leaveMessage: false });
  const c = await member('grp3', 'android', ['grp']);
  const excluded = await member('grp4', 'android', ['grp']);
  const online = await connectClient(port(), '/off', { uuid: 'grp5', platform: 'android' });
  await emitWithAck(online.socket, 'joinRoom', 'grp');
  const got = new Promise<any>((r) => online.socket.once('push', r));
  const id = await push('grp', { except: excluded });
  online.socket.emit('ackPush', { id: (await got).id });
  expect(await offlineDone(id)).toBe('inbox:2 apns:0');
  for (const cid of [a, c]) expect(await redis.zrange(keys.clientInbox(cid), 0, -1)).toEqual([String(id)]);
  for (const cid of [quiet, excluded, online.ok.clientId]) expect(await redis.zcard(keys.clientInbox(cid))).toBe(0);
  online.socket.close();
});

test('iOS: one APNs delivery per device, none without a token, for a muted room, or after an ack', async () => {
  const devices = await Promise.all(['ios1', 'ios2'].map((uuid) => member(uuid, 'ios', ['ios-room'], { device_token: `a1b2${uuid}` })));
  await member('ios3', 'ios', ['ios-room']); // no device token
  /** An iOS member with a device token that muted `rooms` (apns do-not-disturb), then went offline. */
  const mutedMember = async (uuid: string, token: string, rooms: string[]): Promise<string> => {
    const c = await connectClient(port(), '/off', { uuid, platform: 'ios' });
    await emitWithAck(c.socket, 'joinRoom', 'ios-room');
    await new Promise((r) => c.socket.emit('info', { device_token: token }, r));
    expect(await new Promise((r) => c.socket.emit('apns', { add: rooms }, r))).toEqual({ status: 200, msg: 'ok' });
    c.socket.close();
    return c.ok.clientId;
  };
  await mutedMember('ios4', 'ffff', ['ios-room']);
  // Names match exactly: muting `ios-room1` does not mute `ios-room` (the seed matched substrings).
  devices.push(await mutedMember('ios5', 'a1b2ios5', ['ios-room1', 'ios-roo']));
  // Online with a token, it acks the live push within the delay: no APNs delivery for it.
  const acker = await connectClient(port(), '/off', { uuid: 'ios6', platform: 'ios' });
  await emitWithAck(acker.socket, 'joinRoom', 'ios-room');
  await new Promise((r) => acker.socket.emit('info', { device_token: 'a1b2acker' }, r));
  const got = new Promise<any>((r) => acker.socket.once('push', r));
  const id = await push('ios-room');
  acker.socket.emit('ackPush', { id: (await got).id });
  expect(await offlineDone(id)).toBe('inbox:0 apns:3');
  const jobs = (await apnsQueue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter((j) => j.data.id === id);
  expect(jobs).toHaveLength(1);
  expect([...jobs[0]!.data.clientIds].sort()).toEqual(devices.sort());
  expect(JSON.stringify(jobs[0]!.data)).not.toContain('a1b2');
  // No apnsName and no namespace "/" with a `default` configuration: said in the report.
  const report = await until(async () => {
    const r = await stack.api(`/api/auth/report/push/${id}`, { auth: AUTH });
    return r.body.result !== '' ? r.body : undefined;
  }, 10_000);
  expect(report).toMatchObject({ result: 'no default apns', apnsCount: 0, apnsSuccessCount: 0, ackIOSCount: 1 });
  acker.socket.close();
});

test('a namespace that lists web in inbox_platforms: its web clients get an inbox and the replay', async () => {
  await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/webbox', auth_passwd: 'pw', inbox_platforms: ['android', 'web'] } });
  const c = await connectClient(port(), '/webbox', { uuid: 'wb1', platform: 'web' });
  await emitWithAck(c.socket, 'joinRoom', 'board');
  const gone = new Promise((r) => c.socket.once('disconnect', r));
  c.socket.close();
  await gone;
  await until(async () => ((await redis.hget(keys.client(c.ok.clientId), 'sid')) === null ? true : undefined));

  const { body } = await stack.api('/api/auth/push', { auth: basic('/webbox', 'pw'), body: { room: 'board', pushData: { n: 1 }, leaveMessage: true } });
  const summary = await until(async () => (await redis.hget(keys.message('/webbox', body.id), 'offline')) ?? undefined, 10_000);
  expect(summary).toBe('inbox:1 apns:0');
  const socket = io(`http://127.0.0.1:${port()}/webbox`, { query: { uuid: 'wb1', platform: 'web' }, transports: ['websocket'], forceNew: true, reconnection: false });
  const offline = await new Promise<any[]>((resolve) => socket.once('offlineMessage', resolve));
  expect(offline.map((m) => m.id)).toEqual([body.id]);
  socket.close();
});
