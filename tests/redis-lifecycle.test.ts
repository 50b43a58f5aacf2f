/**
 * The Redis lifecycle of `npm start` and `npm test` (issue 2, item 3): `scripts/redis-server.mjs
 * ensure` finds a redis-server >= 6.2 on the PATH, refuses an older one, installs Debian's package
 * when it is missing and it may (root with apt-get), and otherwise stops with the exact command to
 * run. The PATH each run sees is a temporary directory holding stand-ins for redis-server and
 * apt-get, so nothing is installed and the machine's own binaries play no part.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@herald/test-support';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-ensure-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A redis-server stand-in that answers `--version` like the real one. */
const fakeRedis = (version: string) => `echo "Redis server v=${version} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=0"`;

function ensure(): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'redis-server.mjs'), 'ensure'], {
    env: { PATH: dir, HOME: dir },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const root = process.getuid?.() === 0;
const sudo = root ? '' : 'sudo ';

test('a redis-server >= 6.2 on the PATH is used as it is', () => {
  const binary = script('redis-server', fakeRedis('6.2.0'));
  expect(ensure()).toEqual({ status: 0, stdout: `${binary}\n`, stderr: '' });
});

test('an older redis-server stops the start, saying why', () => {
  const binary = script('redis-server', fakeRedis('6.0.16'));
  const run = ensure();
  expect(run.status).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain(`${binary} is redis-server 6.0.16; Herald needs >= 6.2.`);
});

test('none on the PATH and no apt-get: stops with the exact install command', () => {
  const run = ensure();
  expect(run.status).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toBe(
    '[herald] redis-server (>= 6.2) is not on the PATH. Install it, e.g. on Debian/Ubuntu: ' +
      `${sudo}apt-get update && ${sudo}apt-get install -y redis-server ` +
      '(macOS: brew install redis), or set HERALD_REDIS_URL to an existing Redis.\n',
  );
});

// Installing needs root; as another user the script must not try (the case above covers it).
(root ? test : test.skip)('none on the PATH, root with apt-get: installs the Debian package, says so, and uses it', () => {
  const calls = join(dir, 'apt-calls');
  // The stand-in records each call and, on install, puts a redis-server where the package would.
  script(
    'apt-get',
    [
      'PATH=/usr/bin:/bin',
      `echo "$DEBIAN_FRONTEND $*" >> ${calls}`,
      'if [ "$1" = install ]; then',
      `  printf '#!/bin/sh\\n${fakeRedis('7.0.15').replace(/"/g, '\\"')}\\n' > ${join(dir, 'redis-server')}`,
      `  chmod 755 ${join(dir, 'redis-server')}`,
      'fi',
    ].join('\n'),
  );
  const run = ensure();
  expect(run.stderr).toContain('[herald] redis-server is not on the PATH\n');
  expect(run.stderr).toContain("[herald] installing Debian's redis-server package (apt-get update && apt-get install -y redis-server)\n");
  expect(run).toMatchObject({ status: 0, stdout: `${join(dir, 'redis-server')}\n` });
  expect(readFileSync(calls, 'utf8')).toBe('noninteractive update\nnoninteractive install -y redis-server\n');
});
