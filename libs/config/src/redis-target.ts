/** Where Redis is: one server, or the seed nodes of a Redis Cluster. */
export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly { readonly host: string; readonly port: number }[] };

const HOST_PORT = /^([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/;

function port(text: string): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/**
 * `redis://[:pw@]host:port[/db]` (or `rediss://`) is one server; a comma-separated list of
 * `host:port` is a Redis Cluster (DESIGN.md, Environment). Returns a reason string when invalid.
 */
export function parseRedisTarget(raw: string): RedisTarget | string {
  const text = raw.trim();
  if (text.includes(',') || HOST_PORT.test(text)) {
    const nodes = [];
    for (const part of text.split(',')) {
      const m = HOST_PORT.exec(part.trim());
      const p = m ? port(m[2]!) : undefined;
      if (!m || p === undefined) return `cluster node "${part.trim()}" is not host:port`;
      nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port: p });
    }
    return { kind: 'cluster', nodes };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL (expected redis://[:password@]host:port[/db] or host:port,host:port,…)';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `unsupported scheme "${url.protocol}"`;
  if (!url.hostname) return 'missing host';
  if (url.port && port(url.port) === undefined) return `invalid port "${url.port}"`;
  if (url.pathname && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) return `invalid database "${url.pathname.slice(1)}"`;
  return { kind: 'single', url: text };
}

/** The target without its password, for log lines. */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.kind === 'cluster') return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  const url = new URL(target.url);
  if (url.password) url.password = '***';
  return url.toString();
}
