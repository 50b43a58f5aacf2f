import { createLogger } from '@herald/log';
import { ClientStore, ConnectorRegistry, Keys, RoomStore, Scripts } from '@herald/store';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { Liveness } from '../src/core/liveness';

const keys = new Keys('h:');
/**
 * Beat interval of the tests. The connectors they simulate share this jest process, so a stall of
 * the process (a GC, a loaded machine) delays every one of them at once; the margins below are
 * whole intervals so that such a stall does not look like a dead connector.
 */
const INTERVAL = 250;
let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  redis = new Redis(server.url, { retryStrategy: () => 20, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

test('after a Redis outage a connector reaps nobody before the others had time to beat; a silent one is reaped', async () => {
  const scripts = new Scripts(redis);
  const registry = new ConnectorRegistry(redis, keys);
  const clients = new ClientStore(redis, keys, scripts);
  const rooms = new RoomStore(redis, keys, scripts);
  // Connector B, another process, with one client online in a room.
  const cid = '/n#u#web-x';
  await registry.beat('B');
  await clients.connected(cid, { namespace: '/n', userid: 'u', uuid: 'x', platform: 'web', sid: 's1', connector: 'B' });
  await rooms.join('/n', 'r', { clientId: cid, userid: 'u', platform: 'web' }, 's1');
  await clients.addRoom(cid, 'r');

  const a = new Liveness('A', registry, clients, rooms, INTERVAL, createLogger('test', 'silent'));
  await a.start();
  const beatB = setInterval(() => void registry.beat('B').catch(() => undefined), INTERVAL);
  let beatAgain: NodeJS.Timeout | undefined;
  try {
    await server.kill();
    clearInterval(beatB);
    await new Promise((r) => setTimeout(r, 5 * INTERVAL)); // every beat is stale now
    await server.restart();
    // A is back first; B comes back an interval later (its own reconnection), then beats again.
    // Its last beat is then far past the three silent intervals: only A's wait saves it.
    await until(async () => ((Number(await redis.zscore(keys.connectors(), 'A')) > Date.now() - INTERVAL) ? true : undefined), 5000, 10);
    await new Promise((r) => setTimeout(r, INTERVAL));
    beatAgain = setInterval(() => void registry.beat('B').catch(() => undefined), INTERVAL);
    await registry.beat('B');
    await new Promise((r) => setTimeout(r, 6 * INTERVAL));
    expect(await redis.smembers(keys.roomOnline('/n', 'r'))).toEqual([cid]);

    // B dies for good: A reaps it.
    clearInterval(beatAgain);
    // The reaper marks the client offline in its rooms first, then its record: wait for the last step.
    await until(async () => ((await redis.hget(keys.client(cid), 'disconnect_reason')) === 'connector lost' ? true : undefined), 5000, 20);
    expect(await redis.smembers(keys.roomOnline('/n', 'r'))).toEqual([]);
  } finally {
    clearInterval(beatB);
    clearInterval(beatAgain);
    await a.stop();
  }
});

describe('claims', () => {
  const scripts = () => new Scripts(redis);
  const silent = createLogger('test', 'silent');

  /** A connector `id` with clients online in room `room`, as its process left them. */
  async function connectorWith(id: string, room: string, uuids: string[]): Promise<string[]> {
    const clients = new ClientStore(redis, keys, scripts());
    const rooms = new RoomStore(redis, keys, scripts());
    const cids: string[] = [];
    for (const uuid of uuids) {
      const cid = `/n#${uuid}#web-${uuid}`;
      await clients.connected(cid, { namespace: '/n', userid: uuid, uuid, platform: 'web', sid: `sid-${uuid}`, connector: id });
      await rooms.join('/n', room, { clientId: cid, userid: uuid, platform: 'web' }, `sid-${uuid}`);
      await clients.addRoom(cid, room);
      cids.push(cid);
    }
    return cids;
  }

  test('a reaper that dies half-way leaves the dead connector claimable: the next one cleans up every client', async () => {
    const registry = new ConnectorRegistry(redis, keys);
    await connectorWith('D1', 'half', ['h1', 'h2', 'h3']);
    // D1's last beat is long gone (SIGKILL).
    await redis.zadd(keys.connectors(), 1000, 'D1');
    // The first reaper's process dies after its first client (here: its clean-up throws there).
    class DyingClients extends ClientStore {
      private done = 0;
      override async disconnected(...args: Parameters<ClientStore['disconnected']>): Promise<boolean> {
        if (this.done++ === 1) throw new Error('process died');
        return super.disconnected(...args);
      }
    }
    const first = new Liveness('R1', registry, new DyingClients(redis, keys, scripts()), new RoomStore(redis, keys, scripts()), INTERVAL, silent);
    await expect(first.reapAll()).rejects.toThrow('process died');
    // One client done, one half done (offline in its rooms, record not updated), one untouched.
    expect(await redis.scard(keys.roomOnline('/n', 'half'))).toBe(1);
    // Not forgotten: claimed for one lease. Another reaper waits for it to run out, then finishes.
    expect(await redis.zscore(keys.connectors(), 'D1')).not.toBeNull();
    const second = new Liveness('R2', registry, new ClientStore(redis, keys, scripts()), new RoomStore(redis, keys, scripts()), INTERVAL, silent);
    expect(await second.reapAll()).toBe(0);
    await until(async () => ((await second.reapAll()) === 1 ? true : undefined), 5000, 20);
    expect(await redis.scard(keys.roomOnline('/n', 'half'))).toBe(0);
    expect(await redis.scard(keys.roomMembers('/n', 'half'))).toBe(3);
    expect(await redis.zscore(keys.connectors(), 'D1')).toBeNull();
    expect(await redis.exists(keys.connectorClients('D1'))).toBe(0);
  });

  test('the protocols clean up after a dead connector once, after its clients and before it is forgotten; a failure there does not stop the reaper', async () => {
    const registry = new ConnectorRegistry(redis, keys);
    await connectorWith('D3', 'room-D3', ['g1', 'g2']);
    await connectorWith('D4', 'room-D4', ['g3']);
    await redis.zadd(keys.connectors(), 1000, 'D3', 1000, 'D4');
    const calls: string[] = [];
    const reaper = new Liveness(
      'R3',
      registry,
      new ClientStore(redis, keys, scripts()),
      new RoomStore(redis, keys, scripts()),
      INTERVAL,
      silent,
      () => undefined,
      async (client) => void calls.push(`client ${client.clientId}`),
      async (connectorId) => {
        // Still registered while its clean-up runs; its clients are offline already.
        calls.push(`connector ${connectorId} ${(await redis.zscore(keys.connectors(), connectorId)) !== null} ${await redis.scard(keys.roomOnline('/n', `room-${connectorId}`))}`);
        if (connectorId === 'D3') throw new Error('protocol clean-up failed');
      },
    );
    expect(await reaper.reapAll()).toBe(2);
    expect(calls.filter((c) => c.startsWith('connector')).sort()).toEqual(['connector D3 true 0', 'connector D4 true 0']);
    expect(calls.filter((c) => c.startsWith('client'))).toHaveLength(3);
    expect(await redis.zscore(keys.connectors(), 'D3')).toBeNull();
    expect(await redis.zscore(keys.connectors(), 'D4')).toBeNull();
  });

  test('a reaper busy with a long clean-up keeps beating: no other connector reaps it', async () => {
    const registry = new ConnectorRegistry(redis, keys);
    const dead = await connectorWith('D2', 'slow', ['s1', 's2', 's3', 's4']);
    await redis.zadd(keys.connectors(), 1000, 'D2');
    const live = [...(await connectorWith('A', 'live', ['a1'])), ...(await connectorWith('C', 'live', ['c1']))];
    // Each room change of a reaper takes 1.5 intervals (a busy Redis): reaping D2's 8 room entries
    // lasts 12 intervals, four times the silence that makes a connector dead.
    class SlowRooms extends RoomStore {
      override async offline(...args: Parameters<RoomStore['offline']>): Promise<number> {
        await new Promise((r) => setTimeout(r, 1.5 * INTERVAL));
        return super.offline(...args);
      }
    }
    const lost: string[] = [];
    const reapers = ['A', 'C'].map(
      (id) => new Liveness(id, registry, new ClientStore(redis, keys, scripts()), new SlowRooms(redis, keys, scripts()), INTERVAL, silent, () => lost.push(id)),
    );
    await Promise.all(reapers.map((r) => r.start()));
    try {
      await until(async () => ((await redis.zscore(keys.connectors(), 'D2')) === null ? true : undefined), 15_000, 20);
      for (const cid of dead) expect(await redis.hget(keys.client(cid), 'disconnect_reason')).toBe('connector lost');
      // The reaper was never taken for dead, and neither was the other one.
      expect((await redis.smembers(keys.roomOnline('/n', 'live'))).sort()).toEqual(live.sort());
      expect(lost).toEqual([]);
    } finally {
      await Promise.all(reapers.map((r) => r.stop()));
    }
  });

  test('a connector claimed while alive (its loop stalled past the threshold) learns it on its next beat and drops its sockets', async () => {
    const registry = new ConnectorRegistry(redis, keys);
    const lost: string[] = [];
    const stalled = new Liveness('S', registry, new ClientStore(redis, keys, scripts()), new RoomStore(redis, keys, scripts()), INTERVAL, silent, () => lost.push('S'));
    await stalled.start();
    try {
      // What a stall of four intervals leaves behind: its last beat that old, and a reaper's claim.
      const beats = () => redis.zscore(keys.connectors(), 'S');
      // Sent in one tick on S's own connection, so none of S's beats can come between the two.
      const old = Number(await beats()) - 4 * INTERVAL;
      const [, claim] = await Promise.all([redis.zadd(keys.connectors(), old, 'S'), registry.claim('R', 3 * INTERVAL, 3 * INTERVAL)]);
      expect(claim?.connectorId).toBe('S');
      await until(async () => (lost.length > 0 ? true : undefined), 5000, 10);
      expect(lost).toEqual(['S']);
      // Its beat ended the claim: the reaper stops there.
      expect(await registry.renew(claim!, 3 * INTERVAL)).toBeNull();
      expect(Number(await beats()) % 1).toBe(0);
    } finally {
      await stalled.stop();
    }
  });
});
