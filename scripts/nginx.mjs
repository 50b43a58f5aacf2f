// nginx for the deployment test (tests/deploy-nginx.test.ts): find an nginx >= 1.14 (the `hash …
// consistent` balancing of deploy/nginx/herald.conf needs >= 1.7.2), or install Debian's `nginx`
// package when there is none and we are root with apt-get — the same pattern as redis-server in
// scripts/redis-server.mjs. `npm test` runs it once before jest (scripts/test.mjs).
//
// CLI: `node scripts/nginx.mjs ensure` prints the absolute path of the binary (or explains on stderr
// how to install one and exits 1).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { canInstallPackages, findOnPath, installCommand, installPackage } from './debian-package.mjs';

const MIN_VERSION = [1, 14];
const defaultLog = (line) => console.error(`[herald] ${line}`);

/** Debian puts nginx in /usr/sbin, which a non-root PATH often lacks. */
function findNginx() {
  return findOnPath('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
}

/** `nginx -v` prints `nginx version: nginx/1.22.1` on stderr → [1, 22, 1] */
async function versionOf(binary) {
  const { stdout, stderr } = await promisify(execFile)(binary, ['-v']);
  const match = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(`${stderr}${stdout}`);
  if (!match) throw new Error(`cannot read the version of ${binary} from \`${`${stderr}${stdout}`.trim()}\``);
  return match.slice(1).map(Number);
}

/**
 * Resolves with the absolute path of an nginx >= 1.14: the one on the PATH (or /usr/sbin/nginx);
 * when there is none and we are root with apt-get, Debian's package, installed now. Otherwise
 * rejects with the command to run.
 */
export async function ensureNginx({ log = defaultLog } = {}) {
  let binary = findNginx();
  if (!binary) {
    if (!canInstallPackages()) {
      throw new Error(`nginx is not installed. Install it, e.g. on Debian/Ubuntu: ${installCommand('nginx')}`);
    }
    log('nginx is not on the PATH');
    await installPackage('nginx', log);
    binary = findNginx() ?? '/usr/sbin/nginx';
  }
  const version = await versionOf(binary);
  const [major, minor] = version;
  if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
    throw new Error(`${binary} is nginx ${version.join('.')}; deploy/nginx/herald.conf needs >= ${MIN_VERSION.join('.')}.`);
  }
  return binary;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] !== 'ensure') {
    console.error('usage: node scripts/nginx.mjs ensure   (prints the path of an nginx >= 1.14)');
    process.exit(2);
  }
  ensureNginx().then(
    (binary) => console.log(binary),
    (error) => {
      console.error(`[herald] ${error.message}`);
      process.exitCode = 1;
    },
  );
}
