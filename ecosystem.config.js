/**
 * pm2 topology of Herald (`npm start` runs it with `pm2-runtime start ecosystem.config.js`; plain
 * `pm2 start ecosystem.config.js` works too).
 *
 * Profiles, chosen with HERALD_PROFILE:
 * - `dev` (default): one connector (HERALD_CONNECTOR_PORT, default 21314), one logic
 *   (HERALD_LOGIC_PORT, default 10002), one worker, each a forked process.
 * - `production`: HERALD_CONNECTORS connectors (default 2) named herald-connector-1…N on consecutive
 *   ports from HERALD_CONNECTOR_PORT (21314, 21315, …; nginx keeps a client on one of them), logic in
 *   pm2 cluster mode with HERALD_LOGIC_INSTANCES processes (default 2) sharing HERALD_LOGIC_PORT, and
 *   HERALD_WORKERS workers (default 1).
 *
 * Every app gets the environment pm2 was started with (pm2 copies its own process.env into each
 * app's), so HERALD_REDIS_URL, HERALD_ADMIN_PASSWORD and the rest of docs/config.md come from there:
 * no configuration value, and no secret, lives in this file. The only per-app variable is each
 * production connector's HERALD_CONNECTOR_PORT.
 *
 * Lifecycle: a service calls process.send('ready') once it listens (`wait_ready`; pm2 gives it
 * `listen_timeout` ms), and on pm2's SIGINT it stops accepting, finishes in-flight work, closes Redis
 * and exits 0. `kill_timeout` (ms before pm2 sends SIGKILL) is per role, above what that drain
 * takes (docs/deploy.md, "Upgrade and rollback"): a connector disconnects its sockets and records
 * each disconnect in Redis, a worker waits for its running jobs (HERALD_JOB_LOCK_MS, 30 s by
 * default, is also when another worker would take over a job cut short), logic finishes requests.
 *
 * Each role is a pm2 namespace named like its apps, so one command reloads one role:
 * `pm2 reload herald-worker`, `pm2 reload herald-logic`, `pm2 reload herald-connector --parallel 1`.
 *
 * Memory: pm2 restarts (gracefully) a process whose RSS passes `max_memory_restart`:
 * HERALD_CONNECTOR_MAX_MEMORY (default 2G: a connector's memory grows with its sockets),
 * HERALD_LOGIC_MAX_MEMORY and HERALD_WORKER_MAX_MEMORY (default 1G each).
 *
 * Logs (production): pm2 writes each app's stdout (pino JSON lines) and stderr to
 * HERALD_LOG_DIR/<app>.out.log and <app>.err.log (default HERALD_HOME/logs, i.e. `<repo>/.herald/logs`);
 * the processes of one app share its files. Rotate them with pm2-logrotate or logrotate
 * (`copytruncate`, or `pm2 reloadLogs` after moving them).
 */
'use strict';

const path = require('node:path');

/** A positive integer from the environment, or `fallback` when unset; anything else stops pm2 with the variable named. */
function count(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9]\d*$/.test(raw)) throw new Error(`${name}: must be a positive integer, got ${raw}`);
  return Number(raw);
}

/** A pm2 memory size (`512M`, `2G`) from the environment, or `fallback` when unset. */
function memory(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9]\d*[KMG]$/.test(raw)) throw new Error(`${name}: must be a size like 512M or 2G, got ${raw}`);
  return raw;
}

/** Per role: ms pm2 waits after SIGINT before SIGKILL, and the memory limit. */
const limits = {
  connector: { kill_timeout: 30000, max_memory_restart: memory('HERALD_CONNECTOR_MAX_MEMORY', '2G') },
  logic: { kill_timeout: 10000, max_memory_restart: memory('HERALD_LOGIC_MAX_MEMORY', '1G') },
  worker: { kill_timeout: 30000, max_memory_restart: memory('HERALD_WORKER_MAX_MEMORY', '1G') },
};

const service = (role) => ({
  script: path.join(__dirname, 'services', role, 'dist', 'main.js'),
  cwd: __dirname,
  namespace: `herald-${role}`,
  exec_mode: 'fork',
  instances: 1,
  wait_ready: true,
  listen_timeout: 10000,
  autorestart: true,
  ...limits[role],
});

/** Production log files of one app (pm2 creates the directory when it is missing). */
function logFiles(name) {
  const dir = path.resolve(process.env.HERALD_LOG_DIR || path.join(process.env.HERALD_HOME || path.join(__dirname, '.herald'), 'logs'));
  return {
    out_file: path.join(dir, `${name}.out.log`),
    error_file: path.join(dir, `${name}.err.log`),
    merge_logs: true,
  };
}

/**
 * One port per process of a multi-instance app: pm2's `increment_var` gives instance i the port
 * base + i. Port 0 (a free port each) stays 0 for every instance.
 */
function consecutivePorts(name, fallback) {
  const raw = process.env[name] || fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`${name}: must be a port, got ${raw}`);
  return Number(raw) === 0 ? { env: { [name]: '0' } } : { env: { [name]: raw }, increment_var: name };
}

function dev() {
  return [
    { ...service('connector'), name: 'herald-connector' },
    { ...service('logic'), name: 'herald-logic' },
    { ...service('worker'), name: 'herald-worker' },
  ];
}

function production() {
  const connectors = count('HERALD_CONNECTORS', 2);
  const raw = process.env.HERALD_CONNECTOR_PORT || '21314';
  const basePort = Number(raw);
  if (!/^\d+$/.test(raw) || basePort + connectors - 1 > 65535) {
    throw new Error(`HERALD_CONNECTOR_PORT: ${connectors} connectors need consecutive ports from it up to 65535, got ${raw}`);
  }
  const apps = [
    ...Array.from({ length: connectors }, (_, i) => ({
      ...service('connector'),
      name: `herald-connector-${i + 1}`,
      // Port 0 (any free port) stays 0 for every connector.
      env: { HERALD_CONNECTOR_PORT: String(basePort === 0 ? 0 : basePort + i) },
    })),
    // Cluster mode: the pm2 master accepts on HERALD_LOGIC_PORT and hands connections round-robin to
    // the stateless logic processes. Each process serves /metrics on a port of its own
    // (HERALD_LOGIC_METRICS_PORT, consecutive from 10010), which Prometheus scrapes one by one.
    {
      ...service('logic'),
      name: 'herald-logic',
      exec_mode: 'cluster',
      instances: count('HERALD_LOGIC_INSTANCES', 2),
      ...consecutivePorts('HERALD_LOGIC_METRICS_PORT', '10010'),
    },
    // Each worker's /health and /metrics listener: consecutive ports from HERALD_WORKER_PORT (10003).
    { ...service('worker'), name: 'herald-worker', instances: count('HERALD_WORKERS', 1), ...consecutivePorts('HERALD_WORKER_PORT', '10003') },
  ];
  return apps.map((app) => ({ ...app, ...logFiles(app.name) }));
}

const profiles = { dev, production };
const profile = process.env.HERALD_PROFILE || 'dev';
if (!Object.hasOwn(profiles, profile)) {
  throw new Error(`HERALD_PROFILE: must be dev or production, got ${profile}`);
}

module.exports = { apps: profiles[profile]() };
