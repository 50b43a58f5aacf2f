import { VARIABLES, type Role, type Variable } from './variables';

/** docs/config.md, generated from the variable table so the two cannot disagree. */
export function renderConfigDoc(): string {
  const lines = [
    '# Configuration',
    '',
    'Every Herald service is configured by environment variables only. Each service reads the',
    'variables of its role, checks every value when it starts, and refuses to start with a message',
    'naming the variable when a value is wrong (for example',
    '`HERALD_CONNECTOR_PORT: must be between 0 and 65535, got 70000`). The configuration is frozen',
    'once read.',
    '',
    'This file is generated from `libs/config/src/variables.ts` by `npm run docs:config`; a test fails',
    'when the two differ.',
    '',
    '| variable | roles | default | meaning |',
    '|---|---|---|---|',
  ];
  for (const variable of Object.values(VARIABLES) as Variable<unknown>[]) {
    const roles = (variable.roles as Role[]).join(', ');
    lines.push(`| \`${variable.env}\` | ${roles} | ${variable.defaultText} | ${variable.doc.replace(/\|/g, '\\|')} |`);
  }
  lines.push(
    '',
    '## Variables of `npm start` and `ecosystem.config.js`',
    '',
    'These steer the process topology, not a service:',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    '| `HERALD_HOME` | `<repo>/.herald` | where `npm start` keeps the private Redis data (`redis/`), the generated admin password (`admin-password`, mode 0600) and pm2\'s files (`pm2/`) |',
    '| `HERALD_PROFILE` | `dev` | `dev`: one connector, one logic, one worker; `production`: the counts below |',
    '| `HERALD_CONNECTORS` | `2` | production: connectors on consecutive ports from `HERALD_CONNECTOR_PORT` |',
    '| `HERALD_LOGIC_INSTANCES` | `2` | production: logic processes in pm2 cluster mode on `HERALD_LOGIC_PORT` |',
    '| `HERALD_WORKERS` | `1` | production: worker processes |',
    '| `HERALD_LOG_DIR` | `$HERALD_HOME/logs` | production: where pm2 writes `<app>.out.log` (the pino JSON lines) and `<app>.err.log` of each app |',
    '| `HERALD_CONNECTOR_MAX_MEMORY`, `HERALD_LOGIC_MAX_MEMORY`, `HERALD_WORKER_MAX_MEMORY` | `2G`, `1G`, `1G` | pm2 restarts (gracefully) a process whose RSS passes this (`max_memory_restart`; `512M`, `2G`, …) |',
    '| `HERALD_NGINX_LISTEN`, `HERALD_NGINX_ACCESS_LOG` | `80`, `/var/log/nginx/herald-access.log` | `scripts/nginx-conf.mjs`: the `listen` and `access_log` of the rendered nginx file (docs/deploy.md) |',
    '',
  );
  return lines.join('\n');
}
