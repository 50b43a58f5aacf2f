// Prints deploy/nginx/herald.conf rendered for a pm2 production topology, from the same environment
// variables ecosystem.config.js reads, so that nginx's upstreams are exactly the ports pm2 runs:
//
//   HERALD_CONNECTORS=3 HERALD_CONNECTOR_PORT=21314 HERALD_LOGIC_PORT=10002 \
//     node scripts/nginx-conf.mjs > /etc/nginx/conf.d/herald.conf
//
// - connectors: one `server` per production connector (HERALD_CONNECTOR_PORT and the next ports);
// - logic: HERALD_LOGIC_PORT (pm2 cluster mode: one port for every logic process);
// - upstream host: HERALD_BIND (default 127.0.0.1; 0.0.0.0 / :: mean loopback here);
// - HERALD_SOCKET_PATHS: one root `location <path>/` per socket.io path a connector serves
//   (default /socket.io; `PATH=/NAMESPACE` entries are proxied by their PATH);
// - HERALD_NGINX_LISTEN: the `listen` value (default 80), HERALD_NGINX_ACCESS_LOG: the access log path
//   (default /var/log/nginx/herald-access.log).
// Everything else of the file is printed unchanged. Several hosts: edit the upstreams by hand
// (docs/deploy.md).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The body of `upstream <name> { … }` with its `server` lines replaced by `servers`. */
function replaceUpstream(text, name, servers) {
  const block = new RegExp(`(upstream ${name} \\{\\n)([\\s\\S]*?)(\\n\\})`);
  const found = block.exec(text);
  if (!found) throw new Error(`deploy/nginx/herald.conf has no \`upstream ${name}\` block`);
  const lines = found[2].split('\n');
  const first = lines.findIndex((line) => /^\s*server\s/.test(line));
  if (first < 0) throw new Error(`upstream ${name} has no server line`);
  const [, indent, params] = /^(\s*)server\s+\S+?(\s[^;]*)?;/.exec(lines[first]);
  const rendered = servers.map((address) => `${indent}server ${address}${params ?? ''};`);
  const kept = lines.filter((line) => !/^\s*server\s/.test(line));
  kept.splice(first, 0, ...rendered);
  return text.replace(block, `$1${kept.join('\n')}$3`);
}

/** The template's `# socket path begin … end` block, once per socket.io path (HERALD_SOCKET_PATHS). */
function replaceSocketPaths(text, paths) {
  const block = /( *# socket path begin\n)([\s\S]*?)( *# socket path end\n)/;
  const found = block.exec(text);
  if (!found) throw new Error('deploy/nginx/herald.conf has no `# socket path begin … end` block');
  const copies = paths.map((path) => found[2].replace('location /socket.io/ {', `location ${path}/ {`));
  return text.replace(block, () => `${found[1]}${copies.join('\n')}${found[3]}`);
}

function replaceOnce(text, pattern, replacement, what) {
  if (!pattern.test(text)) throw new Error(`deploy/nginx/herald.conf has no ${what} line`);
  return text.replace(pattern, replacement);
}

export function renderNginxConf(env = process.env) {
  // The production profile decides the connector ports (and checks the variables).
  const require = createRequire(import.meta.url);
  const saved = process.env;
  process.env = { ...env, HERALD_PROFILE: 'production' };
  let apps;
  try {
    ({ apps } = require(join(root, 'ecosystem.config.js')));
  } finally {
    process.env = saved;
  }
  const bind = env.HERALD_BIND || '127.0.0.1';
  const host = bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '[::1]' : bind.includes(':') ? `[${bind}]` : bind;
  const ports = apps.filter((app) => app.name.startsWith('herald-connector-')).map((app) => app.env.HERALD_CONNECTOR_PORT);
  const logicPort = env.HERALD_LOGIC_PORT || '10002';
  for (const [name, port] of [['HERALD_CONNECTOR_PORT', ports[0]], ['HERALD_LOGIC_PORT', logicPort]]) {
    if (!/^[1-9]\d*$/.test(port) || Number(port) > 65535) throw new Error(`${name}: nginx needs a fixed port from 1 to 65535, got ${port}`);
  }
  const listen = env.HERALD_NGINX_LISTEN || '80';
  if (!/^[\w.:[\]]+$/.test(listen)) throw new Error(`HERALD_NGINX_LISTEN: must be a port or address:port, got ${listen}`);
  const accessLog = env.HERALD_NGINX_ACCESS_LOG || '/var/log/nginx/herald-access.log';
  if (!/^\/[^\s;'"{}]+$/.test(accessLog)) throw new Error(`HERALD_NGINX_ACCESS_LOG: must be an absolute path without spaces, got ${accessLog}`);

  // The connector's own reading of HERALD_SOCKET_PATHS (the built config lib), so both agree.
  const { loadConfig } = require(join(root, 'libs', 'config', 'dist', 'index.js'));
  let socketPaths;
  try {
    socketPaths = loadConfig('connector', { HERALD_SOCKET_PATHS: env.HERALD_SOCKET_PATHS ?? '' }).socketPaths.map((entry) => entry.path);
  } catch (error) {
    throw new Error(error.message);
  }
  if (socketPaths.some((path) => path === '/push' || path.startsWith('/push/') || path.startsWith('/push-logic'))) {
    throw new Error('HERALD_SOCKET_PATHS: a path under /push/ or /push-logic/ would shadow the prefixed locations');
  }

  let text = readFileSync(join(root, 'deploy', 'nginx', 'herald.conf'), 'utf8');
  text = replaceSocketPaths(text, socketPaths);
  text = replaceUpstream(text, 'herald_connectors', ports.map((port) => `${host}:${port}`));
  text = replaceUpstream(text, 'herald_logic', [`${host}:${logicPort}`]);
  text = replaceOnce(text, /^(\s*)listen 80;$/m, `$1listen ${listen};`, '`listen 80;`');
  text = replaceOnce(text, /^(\s*)access_log \S+ herald;$/m, `$1access_log ${accessLog} herald;`, '`access_log … herald;`');
  return text;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.stdout.write(renderNginxConf());
  } catch (error) {
    console.error(`[herald] ${error.message}`);
    process.exitCode = 1;
  }
}
