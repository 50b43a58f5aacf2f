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
 * and exits 0 (`kill_timeout` ms before pm2 sends SIGKILL).
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

const service = (role) => ({
  script: path.join(__dirname, 'services', role, 'dist', 'main.js'),
  cwd: __dirname,
  exec_mode: 'fork',
  instances: 1,
  wait_ready: true,
  listen_timeout: 10000,
  kill_timeout: 10000,
  autorestart: true,
  max_memory_restart: '1G',
});

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
  return [
    ...Array.from({ length: connectors }, (_, i) => ({
      ...service('connector'),
      name: `herald-connector-${i + 1}`,
      // Port 0 (any free port) stays 0 for every connector.
      env: { HERALD_CONNECTOR_PORT: String(basePort === 0 ? 0 : basePort + i) },
    })),
    // Cluster mode: the pm2 master accepts on HERALD_LOGIC_PORT and hands connections round-robin to
    // the stateless logic processes.
    { ...service('logic'), name: 'herald-logic', exec_mode: 'cluster', instances: count('HERALD_LOGIC_INSTANCES', 2) },
    { ...service('worker'), name: 'herald-worker', instances: count('HERALD_WORKERS', 1) },
  ];
}

const profiles = { dev, production };
const profile = process.env.HERALD_PROFILE || 'dev';
if (!Object.hasOwn(profiles, profile)) {
  throw new Error(`HERALD_PROFILE: must be dev or production, got ${profile}`);
}

module.exports = { apps: profiles[profile]() };
