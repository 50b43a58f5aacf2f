// What `npm test` and `npm run chaos` do before jest: install when needed, build, type-check the
// tests, and make sure a redis-server >= 6.2 exists for the tests to start.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureInstalled, tsc } from './ensure-install.mjs';
import { ensureRedisServer } from './redis-server.mjs';

/** @returns the environment for jest: this process's, plus HERALD_REDIS_SERVER (the binary's path). */
export async function prepareTests(root, say) {
  await ensureInstalled(root, say);
  await tsc(root, ['-b']);
  if (existsSync(join(root, 'tsconfig.test.json'))) {
    await tsc(root, ['-p', 'tsconfig.test.json']);
  } else {
    say('tsconfig.test.json is missing: tests are not type-checked');
  }
  // Every test starts its own redis-server on a free port (a test must never share or touch an
  // operator's Redis, and fault tests kill and restart theirs), so the binary is needed even when
  // HERALD_REDIS_URL is set; that variable only steers `npm start`.
  return { ...process.env, HERALD_REDIS_SERVER: await ensureRedisServer({ log: say }) };
}
