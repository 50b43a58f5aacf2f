/*
 * B-redis: the PUBLISH rate of the Redis a run uses, measured with `redis-benchmark` (installed with
 * Debian's redis-server package), as the ceiling under every push path: each Herald push is at
 * least one PUBLISH. `subscribers` redis-cli processes listen on the channel meanwhile, like the
 * connectors' adapter subscriptions, so each PUBLISH is also written out that many times.
 */
import { execFileSync, spawn } from 'node:child_process';

export function redisBenchmarkAvailable() {
  try {
    execFileSync('redis-benchmark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function runRedisBenchmark({ port, requests = 200_000, clients = 50, payloadBytes = 200, subscribers = 2 }) {
  if (!redisBenchmarkAvailable()) return { skipped: 'redis-benchmark not found (Debian: apt-get install redis-tools / redis-server)' };
  const listeners = Array.from({ length: subscribers }, () => spawn('redis-cli', ['-p', String(port), 'SUBSCRIBE', 'bench-publish'], { stdio: 'ignore' }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    const payload = 'x'.repeat(payloadBytes);
    const args = ['-h', '127.0.0.1', '-p', String(port), '-n', String(requests), '-c', String(clients), '--csv', 'PUBLISH', 'bench-publish', payload];
    const out = await new Promise((resolve, reject) => {
      const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk) => (text += chunk));
      child.stderr.on('data', (chunk) => (text += chunk));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`redis-benchmark exited ${code}: ${text.slice(-500)}`))));
    });
    // CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    const line = out.split('\n').find((l) => l.startsWith('"PUBLISH'));
    if (!line) return { skipped: `unexpected redis-benchmark output: ${out.slice(0, 300)}` };
    const cells = line.split('","').map((c) => c.replace(/"/g, ''));
    return {
      rps: Number(cells[1]),
      p50: Number(cells[4]),
      p99: Number(cells[6]),
      command: `redis-benchmark ${args.slice(0, -1).join(' ')} <${payloadBytes} bytes>`,
      requests,
      clients,
      subscribers,
    };
  } finally {
    for (const l of listeners) l.kill('SIGTERM');
  }
}
