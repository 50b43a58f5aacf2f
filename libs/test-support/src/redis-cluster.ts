import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, redisServerBinary, startRedis, type TestRedis } from './redis-server';
import { until } from './wait';

const run = promisify(execFile);

/** A local Redis Cluster of masters without replicas, each node a redis-server in its own temp dir. */
export interface TestRedisCluster {
  /** The node list as `HERALD_REDIS_URL` takes it: `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  readonly url: string;
  readonly nodes: readonly TestRedis[];
  /** SIGTERM to every node, wait for their exits, remove their directories. */
  stop(): Promise<void>;
}

export interface TestRedisClusterOptions {
  /** Number of masters (16384 slots split evenly between them). @default 3 */
  readonly masters?: number;
  /** How long the cluster may take to report `cluster_state:ok` on every node. @default 30000 */
  readonly readyTimeoutMs?: number;
}

/** `redis-cli` beside the redis-server in use (Debian's redis-tools puts both in /usr/bin), else the PATH. */
export function redisCliBinary(): string {
  const beside = join(dirname(redisServerBinary()), 'redis-cli');
  try {
    accessSync(beside, constants.X_OK);
    return beside;
  } catch {
    return 'redis-cli';
  }
}

/** Sharded pub/sub (SSUBSCRIBE/SPUBLISH), which Herald's cluster mode needs, came with Redis 7.0. */
async function requireRedis7(): Promise<void> {
  const { stdout } = await run(redisServerBinary(), ['--version']);
  const major = Number(/v=(\d+)\./.exec(stdout)?.[1]);
  if (!(major >= 7)) throw new Error(`a Redis Cluster for Herald needs redis-server >= 7 (sharded pub/sub); ${redisServerBinary()} says: ${stdout.trim()}`);
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(redisCliBinary(), ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout;
}

/**
 * One cluster-enabled node. The cluster bus port is chosen free as well (Redis' default, port +
 * 10000, may be taken or above 65535); a node whose ports were taken between the probe and the
 * bind is started again on others (startRedis retries the client port, this the bus port).
 */
async function startNode(): Promise<TestRedis> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const busPort = await freePort();
    try {
      return await startRedis({
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort), '--cluster-node-timeout', '5000'],
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * Starts a local Redis Cluster: `masters` redis-servers with `--cluster-enabled yes` on free loopback
 * ports, joined by `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`; resolves once
 * every node reports `cluster_state:ok` and knows every other node. A failed start stops what it
 * started.
 */
export async function startRedisCluster(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
  await requireRedis7();
  const masters = options.masters ?? 3;
  const started = await Promise.allSettled(Array.from({ length: masters }, () => startNode()));
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run(redisCliBinary(), ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    // `--cluster create` returns when the slots are assigned and the nodes met; each node's own view
    // of the cluster (gossip) may lag behind by a moment.
    await until(
      async () => {
        const infos = await Promise.all(nodes.map((node) => cli(node.port, 'cluster', 'info')));
        const ready = infos.every((info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info));
        return ready ? true : undefined;
      },
      options.readyTimeoutMs ?? 30_000,
      100,
    );
    return { url: addresses.join(','), nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
