// Finding a program on the PATH and installing the Debian package that provides it, shared by
// scripts/redis-server.mjs (redis-server, for `npm start` and `npm test`) and scripts/nginx.mjs
// (nginx, for the deployment test). Node built-ins only: it runs before `node_modules` exists.
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';

/** Absolute path of the executable `name` on the PATH, or undefined. */
export function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = resolve(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** True when this process may install Debian packages itself: root with apt-get. */
export function canInstallPackages() {
  return process.getuid?.() === 0 && Boolean(findOnPath('apt-get'));
}

/** `apt-get update && apt-get install -y <pkg>`, prefixed with sudo when not root: for messages. */
export function installCommand(pkg) {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y ${pkg}`;
}

/**
 * Runs `apt-get update` then `apt-get install -y <pkg>` (noninteractive); apt's output goes to
 * stderr, so that a CLI's stdout stays its answer alone. Rejects with the failing step.
 */
export function installPackage(pkg, log) {
  return new Promise((resolvePromise, reject) => {
    log(`installing Debian's ${pkg} package (${installCommand(pkg)})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const step = (args, next) =>
      spawn('apt-get', args, { env, stdio: ['ignore', 2, 2] })
        .once('error', reject)
        .once('exit', (code) => (code === 0 ? next() : reject(new Error(`\`apt-get ${args.join(' ')}\` failed (exit code ${code})`))));
    step(['update'], () => step(['install', '-y', pkg], resolvePromise));
  });
}
