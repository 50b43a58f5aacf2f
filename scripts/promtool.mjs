// promtool for the metrics test (tests/metrics.test.ts runs `promtool check metrics` on each role's
// /metrics): find it, or install Debian's `prometheus` package (which ships promtool) when there
// is none and we are root with apt-get — the same pattern as nginx in scripts/nginx.mjs. `npm test`
// runs it once before jest (scripts/test.mjs).
//
// CLI: `node scripts/promtool.mjs ensure` prints the absolute path of the binary (or explains on
// stderr how to install one and exits 1).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canInstallPackages, findOnPath, installCommand, installPackage } from './debian-package.mjs';

const defaultLog = (line) => console.error(`[herald] ${line}`);

function findPromtool() {
  return findOnPath('promtool') ?? (existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : undefined);
}

/**
 * Resolves with the absolute path of promtool: the one on the PATH; when there is none and we are
 * root with apt-get, the one of Debian's `prometheus` package, installed now. Otherwise rejects
 * with the command to run.
 */
export async function ensurePromtool({ log = defaultLog } = {}) {
  const found = findPromtool();
  if (found) return found;
  if (!canInstallPackages()) {
    throw new Error(`promtool is not installed. Install it, e.g. on Debian/Ubuntu: ${installCommand('prometheus')}`);
  }
  log('promtool is not on the PATH');
  await installPackage('prometheus', log);
  const installed = findPromtool();
  if (!installed) throw new Error("Debian's prometheus package is installed but promtool is not on the PATH");
  return installed;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] !== 'ensure') {
    console.error('usage: node scripts/promtool.mjs ensure   (prints the path of promtool)');
    process.exit(2);
  }
  ensurePromtool().then(
    (binary) => console.log(binary),
    (error) => {
      console.error(`[herald] ${error.message}`);
      process.exitCode = 1;
    },
  );
}
