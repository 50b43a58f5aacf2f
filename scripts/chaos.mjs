// `npm run chaos [-- <jest arguments>]`: the long fault runs of tests/chaos/*.chaos.ts on the
// delivery ledger (docs/reliability.md), one scenario at a time so that the figures they print are
// not disturbed by each other. Not part of `npm test`. CHAOS_SECONDS (default 45) sets how long
// each scenario keeps hurting processes.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, signalRunning } from './ensure-install.mjs';
import { prepareTests } from './test-setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => console.log(`[herald] ${line}`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => signalRunning(signal));

try {
  const env = await prepareTests(root, say);
  process.exitCode = await run(
    process.execPath,
    [
      join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--ci',
      '--runInBand',
      '--testMatch',
      '<rootDir>/tests/chaos/**/*.chaos.ts',
      ...process.argv.slice(2),
    ],
    { cwd: root, env },
  );
} catch (error) {
  console.error(`[herald] ${error.message}`);
  process.exitCode = 1;
}
