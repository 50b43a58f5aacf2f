// `node scripts/redis-cluster.mjs [masters]`: a throw-away local Redis Cluster for developers and
// operators who want to try Herald's cluster mode by hand (docs/redis-cluster.md). It starts
// `masters` (default 3) redis-servers with `--cluster-enabled yes` on free loopback ports, each with
// its data in a temporary directory, joins them with `redis-cli --cluster create … --cluster-replicas
// 0`, waits for `cluster_state:ok`, prints the HERALD_REDIS_URL to use, and runs until Ctrl-C
// (SIGINT) or SIGTERM, when it stops every node and removes their directories.
//
// The same code (libs/test-support/src/redis-cluster.ts) makes the cluster of tests/redis-cluster.test.ts.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, tsc } from './ensure-install.mjs';
import { ensureRedisServer } from './redis-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => console.log(`[herald] ${line}`);

const masters = Number(process.argv[2] ?? 3);
if (!Number.isInteger(masters) || masters < 3 || masters > 16) {
  console.error('usage: node scripts/redis-cluster.mjs [masters]   (3 to 16 masters, default 3; Redis Cluster needs at least 3)');
  process.exit(2);
}

let cluster;
let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping the cluster`);
  await cluster?.stop();
  say('stopped');
}

try {
  await ensureInstalled(root, say);
  await tsc(root, ['-b', 'libs/test-support']);
  process.env.HERALD_REDIS_SERVER ||= await ensureRedisServer({ log: say });
  const { startRedisCluster } = createRequire(import.meta.url)(resolve(root, 'libs/test-support/dist/redis-cluster.js'));
  cluster = await startRedisCluster({ masters });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stop(signal));
  say(`Redis Cluster ready: ${masters} masters, no replicas, data in ${cluster.nodes.map((n) => n.dir).join(' ')}`);
  say('start Herald against it with:');
  console.log(`HERALD_REDIS_URL=${cluster.url}`);
  say('Ctrl-C stops it and removes its data.');
} catch (error) {
  console.error(`[herald] ${error.message}`);
  await cluster?.stop();
  process.exitCode = 1;
}
