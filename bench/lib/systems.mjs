import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from './clock.mjs';
import { forkChild } from './ipc.mjs';
import { REPO_ROOT } from './report.mjs';

/*
 * The systems under test, each started fresh for one scenario on its own private redis-server:
 * Herald (its real services, built output, started as the tests start them), B-sio and B-ws.
 * All expose the same shape:
 *   { key, name, clientKind: 'sio' | 'ws', urls, push: {origins, path, authorization},
 *     procs: [{name, pid, side: 'server', probeFile?}], redis: {url, pid}, stop() }
 */

const require = createRequire(import.meta.url);
const support = require('@herald/test-support');

export const NAMESPACE = '/bench';
export const NAMESPACE_PASSWORD = 'bench-pw';
const ADMIN_PASSWORD = 'bench-admin-password';
const PROBE = join(REPO_ROOT, 'bench', 'lib', 'probe.cjs');
const BASELINES = join(REPO_ROOT, 'bench', 'baselines');

export const basic = (user, password) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

async function redisPid(url) {
  const client = new Redis(url);
  try {
    return Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
  } finally {
    client.disconnect();
  }
}

async function startPrivateRedis() {
  const redis = await support.startRedis();
  return { ...redis, pid: await redisPid(redis.url), handle: redis };
}

/**
 * Asks a process started with the probe (lib/probe.cjs) for its memory after two full GCs.
 * Returns process.memoryUsage() of that moment.
 */
export async function probeMemory(proc, timeoutMs = process.env.BENCH_HEAP_SNAPSHOT_DIR ? 180_000 : 10_000) {
  const before = existsSync(proc.probeFile) ? JSON.parse(readFileSync(proc.probeFile, 'utf8')).at : 0;
  process.kill(proc.pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(50);
    if (!existsSync(proc.probeFile)) continue;
    const sample = JSON.parse(readFileSync(proc.probeFile, 'utf8'));
    if (sample.at > before) return sample;
  }
  throw new Error(`${proc.name}: no memory sample within ${timeoutMs} ms`);
}

export async function redisMemory(url) {
  const client = new Redis(url);
  try {
    const info = await client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)[1]);
  } finally {
    client.disconnect();
  }
}

/**
 * Herald as it runs in production, one process per role: `connectors` connectors, `logic` logic
 * processes (each on its own port; the push driver spreads over them as nginx would), and a worker.
 * `env` applies to every service; `workerEnv` to the worker only. A namespace /bench is created.
 */
export async function startHerald({ connectors = 1, logic = 1, worker = true, env = {}, workerEnv = {}, logLevel = 'info' } = {}) {
  const probeDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const redis = await startPrivateRedis();
  const started = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
    await redis.handle.stop();
    rmSync(probeDir, { recursive: true, force: true });
  };
  try {
    const baseEnv = {
      HERALD_REDIS_URL: redis.url,
      HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      HERALD_CONNECTOR_PORT: '0',
      HERALD_LOGIC_PORT: '0',
      // startService waits for the info-level `ready` line; below info it would never come.
      // Herald logs nothing per request or per connection at info (fastify request logging is off).
      HERALD_LOG_LEVEL: logLevel,
      // `BENCH_NODE_OPTIONS` adds V8/Node flags to every Herald service (e.g. `--max-semi-space-size=4`).
      NODE_OPTIONS: `--expose-gc --require "${PROBE}"${process.env.BENCH_NODE_OPTIONS ? ` ${process.env.BENCH_NODE_OPTIONS}` : ''}`,
      // `--cpu-prof <dir>` of the bench: the probe profiles each service (lib/probe.cjs).
      ...(process.env.BENCH_CPU_PROF_DIR ? { BENCH_CPU_PROF_DIR: process.env.BENCH_CPU_PROF_DIR } : {}),
      ...(process.env.BENCH_HEAP_SNAPSHOT_DIR ? { BENCH_HEAP_SNAPSHOT_DIR: process.env.BENCH_HEAP_SNAPSHOT_DIR } : {}),
      ...(process.env.BENCH_HEAP_SAMPLE_DIR ? { BENCH_HEAP_SAMPLE_DIR: process.env.BENCH_HEAP_SAMPLE_DIR } : {}),
      // `BENCH_HERALD_X=v` runs every Herald service with `HERALD_X=v` (e.g. BENCH_HERALD_METRICS=off
      // to measure what metrics cost); the services otherwise see only what the bench sets.
      ...Object.fromEntries(
        Object.entries(process.env)
          .filter(([name]) => name.startsWith('BENCH_HERALD_'))
          .map(([name, value]) => [name.slice('BENCH_'.length), value]),
      ),
      ...env,
    };
    const start = async (role, index, extra = {}) => {
      const name = `${role}${index}`;
      const probeFile = join(probeDir, `${name}.json`);
      const service = await support.startService(role, { env: { ...baseEnv, ...extra, BENCH_PROBE_FILE: probeFile }, readyTimeoutMs: 60_000 });
      started.push(service);
      return { name, service, probeFile };
    };
    const services = await Promise.all([
      ...Array.from({ length: logic }, (_, i) => start('logic', i)),
      ...Array.from({ length: connectors }, (_, i) => start('connector', i)),
      ...(worker ? [start('worker', 0, workerEnv)] : []),
    ]);
    const logics = services.filter((s) => s.service.role === 'logic');
    const conns = services.filter((s) => s.service.role === 'connector');
    const admin = await fetch(`http://127.0.0.1:${logics[0].service.port}/api/admin/namespace/save`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic('admin', ADMIN_PASSWORD) },
      body: JSON.stringify({ key: NAMESPACE, auth_passwd: NAMESPACE_PASSWORD }),
    });
    if (admin.status !== 200) throw new Error(`namespace save: ${admin.status} ${await admin.text()}`);
    return {
      key: 'herald',
      name: 'Herald',
      clientKind: 'sio',
      urls: conns.map((c) => `http://127.0.0.1:${c.service.port}${NAMESPACE}`),
      push: { origins: logics.map((l) => `http://127.0.0.1:${l.service.port}`), path: '/api/auth/push', authorization: basic(NAMESPACE, NAMESPACE_PASSWORD) },
      logicOrigin: `http://127.0.0.1:${logics[0].service.port}`,
      adminAuthorization: basic('admin', ADMIN_PASSWORD),
      procs: [
        ...services.map((s) => ({ name: s.name, pid: s.service.child.pid, side: 'server', probeFile: s.probeFile, role: s.service.role })),
        { name: 'redis', pid: redis.pid, side: 'server', role: 'redis' },
      ],
      redis,
      /** Log lines at `minLevel` (pino number; 40 = warn) or above of every service, by role. */
      logLines(minLevel = 40) {
        return started.flatMap((s) => s.logs.filter((l) => Number(l.level) >= minLevel).map((l) => ({ role: s.role, ...l })));
      },
      /** Starts one more service (S4 swaps workers between APNs mocks). */
      async addService(role, index, extra) {
        const s = await start(role, index, extra);
        return { name: s.name, pid: s.service.child.pid, side: 'server', probeFile: s.probeFile, role, stop: () => s.service.stop() };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startBaseline(key, name, serverScript, endpointScript, { servers, extraArgs = [] }) {
  const probeDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const redis = await startPrivateRedis();
  const children = [];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    await redis.handle.stop();
    rmSync(probeDir, { recursive: true, force: true });
  };
  try {
    const launch = async (childName, script) => {
      const probeFile = join(probeDir, `${childName}.json`);
      const child = await forkChild(childName, join(BASELINES, script), {
        args: [redis.url, ...extraArgs],
        env: { BENCH_PROBE_FILE: probeFile, ...(process.env.BENCH_HEAP_SNAPSHOT_DIR ? { BENCH_HEAP_SNAPSHOT_DIR: process.env.BENCH_HEAP_SNAPSHOT_DIR } : {}) },
        execArgv: ['--expose-gc', '--require', PROBE],
      });
      children.push(child);
      return { child, probeFile };
    };
    const serverChildren = await Promise.all(Array.from({ length: servers }, (_, i) => launch(`server${i}`, serverScript)));
    const endpoint = await launch('endpoint', endpointScript);
    return {
      key,
      name,
      clientKind: key === 'b-ws' ? 'ws' : 'sio',
      urls: serverChildren.map((s) => (key === 'b-ws' ? `ws://127.0.0.1:${s.child.info.port}` : `http://127.0.0.1:${s.child.info.port}${NAMESPACE}`)),
      push: { origins: [`http://127.0.0.1:${endpoint.child.info.port}`], path: '/push' },
      procs: [
        ...serverChildren.map((s) => ({ name: s.child.name, pid: s.child.pid, side: 'server', probeFile: s.probeFile, role: 'server', child: s.child })),
        { name: 'endpoint', pid: endpoint.child.pid, side: 'server', probeFile: endpoint.probeFile, role: 'endpoint' },
        { name: 'redis', pid: redis.pid, side: 'server', role: 'redis' },
      ],
      redis,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** B-sio: `servers` bare socket.io servers with the Redis adapter + an emitter HTTP endpoint. */
export function startBSio({ servers = 1 } = {}) {
  return startBaseline('b-sio', 'B-sio', 'b-sio-server.mjs', 'b-sio-endpoint.mjs', { servers, extraArgs: [NAMESPACE] });
}

/** B-ws: `servers` bare ws servers fed by Redis pub/sub + an HTTP endpoint that publishes. */
export function startBWs({ servers = 1 } = {}) {
  return startBaseline('b-ws', 'B-ws', 'b-ws-server.mjs', 'b-ws-endpoint.mjs', { servers });
}

export const SYSTEMS = {
  herald: (options) => startHerald(options),
  'b-sio': (options) => startBSio({ servers: options.connectors }),
  'b-ws': (options) => startBWs({ servers: options.connectors }),
};

/** A JSON call to Herald's REST API (namespace credentials unless `authorization` is given). */
export async function heraldApi(system, path, { body, authorization = system.push.authorization, method } = {}) {
  const response = await fetch(`${system.logicOrigin}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
