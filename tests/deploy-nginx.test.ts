/**
 * The production deployment end to end (issue 8, docs/deploy.md): ecosystem.config.js's production
 * profile under pm2 — 3 connectors, 2 logic (cluster mode), 2 workers — behind a real nginx running
 * deploy/nginx/herald.conf as rendered by `node scripts/nginx-conf.mjs`, on a private redis-server.
 * Every client and every REST call goes through nginx only:
 *
 * - `nginx -t` accepts the rendered file;
 * - WebSocket and polling-only clients connect on `/push/socket.io/`, join a room, get a push sent
 *   to `/push-logic/api/auth/push`, ack it, and the report lists every ack;
 * - polling clients are sticky: every request of a uuid reaches the connector that answered its
 *   handshake (nginx's access log and the connector's own `ok {port}` agree), and none of them
 *   ever hits "Session ID unknown";
 * - `pm2 reload` of each role (workers, then logic, then connectors) while pushes with
 *   `leaveMessage` are accepted: every process drains and exits 0, and every accepted id reaches
 *   every client, live or from its inbox on reconnect.
 *
 * pm2 has its own PM2_HOME and nginx its own prefix in a temporary directory; `pm2 kill`, nginx's
 * stop and Redis's stop run in afterAll whatever happened.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { PushMessage } from '@herald/wire';
import { freePort, startRedis, until, type TestRedis } from '@herald/test-support';
import { basic, emitWithAck, type TestSocket } from './support/clients';
import { cleanEnv } from './support/env';
import { nginxBinary, nginxTest, renderNginxConf, startNginx, writeMainConf, type PrivateNginx } from './support/nginx';
import { freeConsecutivePorts, pm2, type Pm2 } from './support/pm2';

jest.setTimeout(180_000);

const NAMESPACE = '/deploy';
const AUTH = basic(NAMESPACE, 'deploy-password');
const ADMIN = basic('admin', 'deploy-admin-password');
const CONNECTORS = 3;
const LOGIC = 2;
const WORKERS = 2;

let dir: string | undefined;
let redis: TestRedis | undefined;
let manager: Pm2 | undefined;
let nginx: PrivateNginx | undefined;
let nginxDir = '';
let mainConf = '';
let binary = '';
let connectorBase = 0;

async function api(path: string, body?: unknown, auth = AUTH): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${nginx!.port}/push-logic${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // an nginx error page: keep the text
  }
  return { status: response.status, body: parsed };
}

/** An Android client (inbox platform) connected through nginx; records what it got and how. */
interface Client {
  readonly uuid: string;
  readonly clientId: string;
  readonly socket: TestSocket;
  /** `ok.port` of every connect: the connector that served it. */
  readonly okPorts: number[];
  readonly live: Set<number>;
  readonly inbox: Set<number>;
  readonly disconnects: string[];
}

function connectClient(uuid: string, transport: 'websocket' | 'polling', reconnection: boolean): Promise<Client> {
  const socket: TestSocket = io(`http://127.0.0.1:${nginx!.port}${NAMESPACE}`, {
    path: '/push/socket.io/',
    transports: [transport],
    query: { uuid, platform: 'android' },
    forceNew: true,
    reconnection,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  });
  const client: Client = {
    uuid,
    clientId: `${NAMESPACE}#${uuid}#android-${uuid}`,
    socket,
    okPorts: [],
    live: new Set(),
    inbox: new Set(),
    disconnects: [],
  };
  socket.on('push', (message: PushMessage) => {
    client.live.add(message.id);
    socket.emit('ackPush', { id: message.id });
  });
  socket.on('offlineMessage', (messages: PushMessage[], ack?: (ids?: number[]) => void) => {
    for (const message of messages) client.inbox.add(message.id);
    ack?.();
  });
  socket.on('disconnect', (reason) => client.disconnects.push(reason));
  return new Promise((resolve, reject) => {
    socket.on('ok', (ok) => {
      client.okPorts.push(ok.port);
      resolve(client);
    });
    if (!reconnection) {
      socket.once('connect_error', (error) => {
        socket.close();
        reject(error);
      });
    }
  });
}

async function joinAll(clients: Client[], room: string): Promise<void> {
  const answers = await Promise.all(clients.map((c) => emitWithAck(c.socket, 'joinRoom', room)));
  for (const answer of answers) expect(answer).toMatchObject({ status: 200 });
}

beforeAll(async () => {
  binary = nginxBinary();
  dir = mkdtempSync(join(tmpdir(), 'herald-deploy-'));
  redis = await startRedis();
  connectorBase = await freeConsecutivePorts(CONNECTORS);
  // freePort answers from the ephemeral range, above the connectors' ports.
  const logicPort = await freePort();
  let nginxPort = await freePort();
  while (nginxPort === logicPort) nginxPort = await freePort();

  const env = {
    ...cleanEnv(),
    HERALD_PROFILE: 'production',
    HERALD_CONNECTORS: String(CONNECTORS),
    HERALD_CONNECTOR_PORT: String(connectorBase),
    HERALD_LOGIC_PORT: String(logicPort),
    HERALD_LOGIC_INSTANCES: String(LOGIC),
    HERALD_WORKERS: String(WORKERS),
    // The per-process metrics ports (workers, logic in cluster mode): free ones, not 10003 / 10010.
    HERALD_WORKER_PORT: '0',
    HERALD_LOGIC_METRICS_PORT: '0',
    HERALD_REDIS_URL: redis.url,
    HERALD_ADMIN_PASSWORD: 'deploy-admin-password',
    HERALD_OFFLINE_DELAY_MS: '1000',
    HERALD_LOG_DIR: join(dir, 'logs'),
    HERALD_LOG_LEVEL: 'info',
  };
  manager = pm2(join(dir, 'pm2'), env);
  const started = await manager.run(['start', 'ecosystem.config.js']);
  if (started.code !== 0) throw new Error(`pm2 start failed:\n${started.output}`);

  nginxDir = join(dir, 'nginx');
  const rendered = renderNginxConf({
    ...env,
    HERALD_NGINX_LISTEN: `127.0.0.1:${nginxPort}`,
    HERALD_NGINX_ACCESS_LOG: join(nginxDir, 'logs', 'access.log'),
  });
  mainConf = writeMainConf(nginxDir, rendered);
  nginx = await startNginx(binary, nginxDir, mainConf, nginxPort);

  // pm2 start returns once every app sent `ready` (wait_ready) or its listen_timeout passed; on a
  // loaded machine the latter can come first, so wait for logic and each connector to answer.
  const processes = await manager.list();
  expect(processes.map((p) => p.status)).toEqual(Array(CONNECTORS + LOGIC + WORKERS).fill('online'));
  const hello = async (url: string) => {
    try {
      return (await (await fetch(url)).text()) === 'hello' ? true : undefined;
    } catch {
      return undefined;
    }
  };
  await until(() => hello(`http://127.0.0.1:${nginxPort}/push-logic/health`), 60_000, 100);
  for (let i = 0; i < CONNECTORS; i++) await until(() => hello(`http://127.0.0.1:${connectorBase + i}/health`), 60_000, 100);
  const saved = await api('/api/admin/namespace/save', { key: NAMESPACE, auth_passwd: 'deploy-password' }, ADMIN);
  expect(saved).toEqual({ status: 200, body: {} });
}, 120_000);

afterAll(async () => {
  // Whatever happened above: stop every app and the daemon, then nginx, then Redis.
  const killed = await manager?.kill();
  if (killed && killed.code !== 0) console.error(`pm2 kill failed:\n${killed.output}`);
  await nginx?.stop();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

test('nginx -t accepts deploy/nginx/herald.conf as rendered for the topology, and the default rendering is the file itself', () => {
  const result = nginxTest(binary, nginxDir, mainConf);
  expect(result.output).toContain('test is successful');
  expect(result.code).toBe(0);
  // Rendered without any HERALD_* variable: exactly the template (its ports are the defaults).
  const defaults = renderNginxConf(cleanEnv());
  expect(defaults).toBe(readFileSync(join(__dirname, '..', 'deploy', 'nginx', 'herald.conf'), 'utf8'));
});

test('metrics stay private: nginx answers /push/metrics and /push-logic/metrics with 404; each worker serves its own on its port', async () => {
  for (const path of ['/push/metrics', '/push-logic/metrics', '/push//metrics', '/push-logic/metrics?x=1']) {
    const response = await fetch(`http://127.0.0.1:${nginx!.port}${path}`);
    expect({ path, status: response.status, body: await response.text() }).toEqual({ path, status: 404, body: expect.not.stringContaining('herald_') });
  }
  // Each pm2 worker logged the port of its /health and /metrics listener with `ready`.
  const lines = readFileSync(join(dir!, 'logs', 'herald-worker.out.log'), 'utf8').split('\n').filter((l) => l.includes('"msg":"ready"'));
  const ports = [...new Set(lines.map((l) => JSON.parse(l).port as number))];
  expect(ports).toHaveLength(WORKERS);
  for (const port of ports) {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('herald_queue_jobs{queue="offline",state="waiting"}');
  }
});

test('websocket and polling-only clients connect through nginx, get a push from /push-logic/, ack it, and the report counts every ack', async () => {
  const clients = await Promise.all([
    connectClient('ws-1', 'websocket', false),
    connectClient('ws-2', 'websocket', false),
    connectClient('poll-1', 'polling', false),
    connectClient('poll-2', 'polling', false),
  ]);
  try {
    expect(clients.map((c) => c.socket.io.engine.transport.name)).toEqual(['websocket', 'websocket', 'polling', 'polling']);
    await joinAll(clients, 'basic');

    const pushed = await api('/api/auth/push', { room: 'basic', pushData: { hello: 'nginx' } });
    expect(pushed.status).toBe(200);
    expect(pushed.body.expectAckCount).toBe(4);
    const id = pushed.body.id as number;
    await until(async () => (clients.every((c) => c.live.has(id)) ? true : undefined), 15_000);

    const report = await until(async () => {
      const { status, body } = await api(`/api/auth/report/push/${id}?ackDetail=true`);
      return status === 200 && body.ackCount === 4 ? body : undefined;
    }, 15_000, 100);
    expect(report).toMatchObject({ id, room: 'basic', onlineClientCount: 4, ackCount: 4, ackAndroidCount: 4 });
    expect([...report.ackAndroidDetail].sort()).toEqual(clients.map((c) => c.clientId).sort());
  } finally {
    for (const c of clients) c.socket.close();
  }
});

test('polling clients are sticky: every request of a uuid reaches the connector that served its handshake', async () => {
  const uuids = Array.from({ length: 10 }, (_, i) => `sticky-${i}`);
  const clients = await Promise.all(uuids.map((uuid) => connectClient(uuid, 'polling', false)));
  try {
    // Each round trip is a POST (the event) and a GET (the answer) of the long-polling transport.
    for (let round = 0; round < 15; round++) await joinAll(clients, `sticky-room-${round}`);
    expect(clients.flatMap((c) => c.disconnects)).toEqual([]);
  } finally {
    for (const c of clients) c.socket.close();
  }

  const log = nginx!.accessLog().filter((line) => line.uri === '/push/socket.io/');
  const connectors = new Set<string>();
  for (const c of clients) {
    const requests = log.filter((line) => line.uuid === c.uuid);
    expect(requests.length).toBeGreaterThanOrEqual(30);
    // "Session ID unknown" is a 400 from a connector that did not make the session.
    expect(requests.filter((line) => line.status !== 200)).toEqual([]);
    const upstreams = new Set(requests.flatMap((line) => line.upstreams));
    // The connector itself said which port served the handshake (`ok.port`).
    expect([...upstreams]).toEqual([`127.0.0.1:${c.okPorts[0]}`]);
    connectors.add([...upstreams][0]!);
  }
  // Ten uuids on three connectors: the hash spreads them (all on one would prove nothing).
  expect(connectors.size).toBeGreaterThanOrEqual(2);
});

test('pm2 reload of workers, then logic, then connectors, under pushes with leaveMessage: every process drains and exits 0, no accepted message is lost', async () => {
  const clients = await Promise.all([
    connectClient('reload-ws-1', 'websocket', true),
    connectClient('reload-ws-2', 'websocket', true),
    connectClient('reload-poll-1', 'polling', true),
    connectClient('reload-poll-2', 'polling', true),
  ]);
  const again: Client[] = [];
  try {
    await reloadUnderLoad(clients, again);
  } finally {
    // Reconnecting clients would retry forever once the stack is gone.
    for (const c of [...clients, ...again]) c.socket.close();
  }
});

/**
 * Longest drain per role, from the production log files pm2 wrote (HERALD_LOG_DIR): the time from a
 * process's `stopping` line (pm2's SIGINT) to its `stopped` line, when it exits.
 */
function drainTimes(): Record<string, number> {
  const longest: Record<string, number> = {};
  const logs = join(dir!, 'logs');
  for (const file of readdirSync(logs).filter((name) => name.endsWith('.out.log'))) {
    const role = file.replace(/^herald-(connector|logic|worker).*$/, '$1');
    const stopping = new Map<number, number>();
    for (const text of readFileSync(join(logs, file), 'utf8').split('\n')) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as { pid: number; time: string; msg: string };
      if (line.msg === 'stopping') stopping.set(line.pid, Date.parse(line.time));
      if (line.msg === 'stopped' && stopping.has(line.pid)) {
        longest[role] = Math.max(longest[role] ?? 0, Date.parse(line.time) - stopping.get(line.pid)!);
      }
    }
  }
  return longest;
}

async function reloadUnderLoad(clients: Client[], again: Client[]): Promise<void> {
  const before = await manager!.list();
  const accepted: number[] = [];
  const failed: string[] = [];
  let pushing = true;
  let n = 0;
  // A third-party server pushing about 10 messages a second through nginx.
  const pusher = (async () => {
    while (pushing) {
      try {
        const { status, body } = await api('/api/auth/push', { room: 'reload', pushData: { n: n++ }, leaveMessage: true });
        if (status === 200) accepted.push(body.id as number);
        else failed.push(`${status} ${JSON.stringify(body)}`);
      } catch (error) {
        failed.push(String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    await joinAll(clients, 'reload');
    const acceptedNow = () => accepted.length;
    for (const command of [['reload', 'herald-worker'], ['reload', 'herald-logic'], ['reload', 'herald-connector', '--parallel', '1']]) {
      const count = acceptedNow();
      const result = await manager!.run(command);
      if (result.code !== 0) throw new Error(`pm2 ${command.join(' ')} failed:\n${result.output}`);
      // Pushes go on being accepted after each role's reload.
      await until(async () => (acceptedNow() >= count + 5 ? true : undefined), 30_000, 50);
    }
  } finally {
    pushing = false;
    await pusher;
  }

  // Every process was replaced and is online again.
  const after = await manager!.list();
  expect(after.map((p) => p.status)).toEqual(before.map(() => 'online'));
  for (const p of after) expect(before.map((b) => b.pid)).not.toContain(p.pid);
  // Every reloaded process stopped by itself on pm2's SIGINT, within its kill_timeout (no SIGKILL).
  const exits = [...manager!.daemonLog().matchAll(/App \[(herald-[\w-]+):[^\]]+\] exited with code \[(\d+)\] via signal \[(\w+)\]/g)];
  expect(exits.length).toBeGreaterThanOrEqual(CONNECTORS + LOGIC + WORKERS);
  expect(exits.filter(([, , code, signal]) => code !== '0' || signal !== 'SIGINT').map(([line]) => line)).toEqual([]);

  // Each connector reload dropped the sockets it held: the clients reconnected through nginx.
  for (const c of clients) expect(c.disconnects.length).toBeGreaterThanOrEqual(1);
  expect(accepted.length).toBeGreaterThanOrEqual(15);

  // The offline step of every accepted message ran (report `offline` set: `inbox:<n> apns:<m>`)...
  for (const id of accepted) {
    await until(async () => {
      const { status, body } = await api(`/api/auth/report/push/${id}`);
      return status === 200 && body.offline ? true : undefined;
    }, 30_000, 100);
  }
  // ...so whatever a client missed live waits in its inbox: one more connect collects it.
  for (const c of clients) c.socket.close();
  again.push(...(await Promise.all(clients.map((c) => connectClient(c.uuid, 'websocket', false)))));
  for (const [i, c] of clients.entries()) {
    const got = new Set([...c.live, ...c.inbox, ...again[i]!.inbox]);
    expect({ client: c.uuid, missing: accepted.filter((id) => !got.has(id)) }).toEqual({ client: c.uuid, missing: [] });
  }
  // Refused pushes were never accepted (the caller retries them); they may only come from the
  // reloads themselves, as nginx's 502 (an upstream connection closed under it) or logic's 503.
  for (const failure of failed) expect(failure).toMatch(/^50[23] /);
  // Each role's drain stayed well inside its kill_timeout (ecosystem.config.js).
  const drains = drainTimes();
  expect(Object.keys(drains).sort()).toEqual(['connector', 'logic', 'worker']);
  const { apps } = require(join(__dirname, '..', 'ecosystem.config.js')) as { apps: { namespace: string; kill_timeout: number }[] };
  for (const [role, ms] of Object.entries(drains)) {
    expect(ms).toBeLessThan(apps.find((app) => app.namespace === `herald-${role}`)!.kill_timeout);
  }
  console.log(
    `deploy reload: longest drain ${JSON.stringify(drains)} ms; ${accepted.length} accepted, ${failed.length} refused; ` +
      clients.map((c, i) => `${c.uuid}: ${c.disconnects.length} disconnects, ${c.live.size} live, ${new Set([...c.inbox, ...again[i]!.inbox]).size} from inbox`).join('; '),
  );
}
