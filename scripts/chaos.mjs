// `npm run chaos [-- <jest arguments>]`: the long fault runs of tests/chaos/*.chaos.ts on the
// delivery ledger (docs/reliability.md), one scenario at a time so that the figures they print are
// not disturbed by each other. Not part of `npm test`. CHAOS_SECONDS (default 45) sets how long
// each scenario keeps hurting processes.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, run, signalRunning, tsc } from './ensure-install.mjs';
import { ensureRedisServer } from './redis-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => console.log(`[herald] ${line}`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => signalRunning(signal));

try {
  await ensureInstalled(root, say);
  await tsc(root, ['-b']);
  await tsc(root, ['-p', 'tsconfig.test.json']);
  const env = { ...process.env, HERALD_REDIS_SERVER: await ensureRedisServer({ log: say }) };
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
