import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '@herald/config';

export type RedisClient = Redis | Cluster;

export interface ConnectionOptions {
  /** Shown in `CLIENT LIST` (`herald-<role>-<purpose>`), which helps an operator see who is connected. */
  readonly name: string;
  /**
   * How many times a command is retried while the connection is down before it fails.
   * BullMQ workers need `null` (wait for ever); request paths use a small number so that a caller
   * gets an answer instead of a hang.
   * @default 2
   */
  readonly maxRetriesPerRequest?: number | null;
  /**
   * Commands issued in the same tick of the event loop leave in one write (ioredis'
   * `enableAutoPipelining`). A busy request path (logic serving thousands of pushes a second, each
   * a handful of commands) otherwise pays one write syscall per command; the profile in
   * docs/benchmarks.md shows that cost. Replies and errors are per command as before.
   * @default false
   */
  readonly autoPipelining?: boolean;
  /**
   * Cluster only: route SSUBSCRIBE to one subscriber connection per master (ioredis >= 5.9
   * `shardedSubscribers`), which the sharded socket.io adapter needs; a single-node target ignores
   * it (SSUBSCRIBE works on the one connection).
   * @default false
   */
  readonly shardedSubscribers?: boolean;
  /**
   * Each command is sent at most once: a command in flight when the connection drops fails
   * instead of being sent again after the reconnect (ioredis' default, `autoResendUnfulfilledCommands`,
   * would run a script whose reply was lost a second time — a push stored twice). The number is how
   * long a command may wait for its reply (ioredis `commandTimeout`): it also settles the commands
   * that ioredis 5 leaves pending when it drops them (redis/ioredis#2193).
   * @default undefined (ioredis' defaults: resend, no timeout)
   */
  readonly atMostOnceTimeoutMs?: number;
}

/** True when the client talks to a Redis Cluster. */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** Opens a connection (or a cluster client) to the configured Redis. */
export function createRedis(target: RedisTarget, options: ConnectionOptions): RedisClient {
  const common: RedisOptions = {
    connectionName: options.name,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 2 : options.maxRetriesPerRequest,
    // Reconnect quickly at first, then every second: Redis restarts should be invisible to clients.
    retryStrategy: (times) => Math.min(50 * times, 1000),
    ...(options.atMostOnceTimeoutMs !== undefined && { autoResendUnfulfilledCommands: false, commandTimeout: options.atMostOnceTimeoutMs }),
  };
  const enableAutoPipelining = options.autoPipelining ?? false;
  if (target.kind === 'cluster') {
    return new Cluster(target.nodes.map((n) => ({ host: n.host, port: n.port })), {
      enableAutoPipelining,
      redisOptions: common,
      shardedSubscribers: options.shardedSubscribers ?? false,
    });
  }
  return new Redis(target.url, { ...common, enableAutoPipelining });
}

/**
 * Herald's cluster mode needs sharded pub/sub (SSUBSCRIBE / SPUBLISH, Redis 7.0). Rejects, naming the
 * node, when a master runs an older Redis, so that a service refuses to start instead of losing
 * every live push. A single server is not checked (classic pub/sub). Call it once connected.
 */
export async function checkClusterVersion(client: RedisClient): Promise<void> {
  if (!isCluster(client)) return;
  for (const node of client.nodes('master')) {
    const version = /redis_version:([\d.]+)/.exec(await node.info('server'))?.[1] ?? 'unknown';
    if (!(Number(version.split('.')[0]) >= 7)) {
      throw new Error(`Redis Cluster mode needs Redis >= 7.0 (sharded pub/sub); ${node.options.host}:${node.options.port} runs ${version}`);
    }
  }
}

/**
 * Closes a connection: QUIT lets Redis finish what was sent; when the connection is down, there is
 * nothing to finish and `disconnect` frees the socket.
 */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
