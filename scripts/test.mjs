// `npm test [-- <jest arguments>]`: install when needed, build, type-check the tests, make sure a
// redis-server >= 6.2 exists for the tests to start (its path goes to them in HERALD_REDIS_SERVER)
// an nginx for the deployment test (HERALD_NGINX), promtool for the metrics test (HERALD_PROMTOOL) and a
// Chromium for the console's browser test (HERALD_CHROMIUM), then run jest and exit with its exit code.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, signalRunning } from './ensure-install.mjs';
import { ensureChromium } from './chromium.mjs';
import { ensureNginx } from './nginx.mjs';
import { ensurePromtool } from './promtool.mjs';
import { prepareTests } from './test-setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => console.log(`[herald] ${line}`);

// A Ctrl-C reaches jest through the terminal's process group; a signal sent to this script alone
// (a CI timeout) is passed on, and either way we wait for jest to finish its teardown.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => signalRunning(signal));

try {
  const env = await prepareTests(root, say);
  // tests/deploy-nginx.test.ts runs a real nginx. Without one (and no way to install it) only that
  // test fails, with this reason; the rest of the suite still runs.
  try {
    env.HERALD_NGINX = await ensureNginx({ log: say });
  } catch (error) {
    say(`${error.message} (tests/deploy-nginx.test.ts will fail)`);
  }
  // tests/metrics.test.ts checks each role's /metrics with `promtool check metrics`.
  try {
    env.HERALD_PROMTOOL = await ensurePromtool({ log: say });
  } catch (error) {
    say(`${error.message} (tests/metrics.test.ts will fail)`);
  }
  // tests/console.test.ts drives a real headless Chromium; without one only that test fails.
  try {
    env.HERALD_CHROMIUM = await ensureChromium({ log: say });
  } catch (error) {
    say(`${error.message} (tests/console.test.ts will fail)`);
  }
  // Jest also writes its results as JSON, from which the run ends with one plain summary line
  // ("N passed, N failed") that any CI can read.
  const resultsDir = mkdtempSync(join(tmpdir(), 'herald-jest-'));
  const results = join(resultsDir, 'results.json');
  process.exitCode = await run(
    process.execPath,
    [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', '--json', `--outputFile=${results}`, ...process.argv.slice(2)],
    { cwd: root, env },
  );
  if (existsSync(results)) {
    const { numPassedTests, numFailedTests, numTotalTestSuites } = JSON.parse(readFileSync(results, 'utf8'));
    console.log(`[herald] ${numTotalTestSuites} test files`);
    console.log(`${numPassedTests} passed, ${numFailedTests} failed`);
  }
  rmSync(resultsDir, { recursive: true, force: true });
} catch (error) {
  console.error(`[herald] ${error.message}`);
  process.exitCode = 1;
}
