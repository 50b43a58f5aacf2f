// Chromium for the admin console's browser test (tests/console.test.ts, driven by playwright-core,
// which never downloads a browser of its own): find Debian's `chromium`, or install the package when
// there is none and we are root with apt-get — the same pattern as nginx (scripts/nginx.mjs).
// `npm test` runs it once before jest (scripts/test.mjs) and hands the path on in HERALD_CHROMIUM.
//
// CLI: `node scripts/chromium.mjs ensure` prints the absolute path of the binary (or explains on
// stderr how to install one and exits 1).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canInstallPackages, findOnPath, installCommand, installPackage } from './debian-package.mjs';

const defaultLog = (line) => console.error(`[herald] ${line}`);

function findChromium() {
  return findOnPath('chromium') ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
}

/**
 * Resolves with the absolute path of Chromium: the one on the PATH (or /usr/bin/chromium); when there
 * is none and we are root with apt-get, Debian's package, installed now. Otherwise rejects with the
 * command to run.
 */
export async function ensureChromium({ log = defaultLog } = {}) {
  let binary = findChromium();
  if (!binary) {
    if (!canInstallPackages()) {
      throw new Error(`chromium is not installed. Install it, e.g. on Debian: ${installCommand('chromium')}`);
    }
    log('chromium is not on the PATH');
    await installPackage('chromium', log);
    binary = findChromium() ?? '/usr/bin/chromium';
  }
  return binary;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] !== 'ensure') {
    console.error('usage: node scripts/chromium.mjs ensure   (prints the path of chromium)');
    process.exit(2);
  }
  ensureChromium().then(
    (binary) => console.log(binary),
    (error) => {
      console.error(`[herald] ${error.message}`);
      process.exitCode = 1;
    },
  );
}
