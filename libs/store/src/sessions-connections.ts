import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';

/** The handshake of a connection as the seed's admin HTTP showed it, cookies and credentials redacted. */
export interface SessionsHandshake {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly time: string;
  readonly address: string;
  readonly xdomain: boolean;
  readonly secure: boolean;
  readonly issued: number;
  readonly url: string;
  readonly query: Readonly<Record<string, unknown>>;
}

/** One connection of a sessions namespace (seed 003's admin HTTP entry, plus its connector). */
export interface SessionsConnection {
  readonly connectionId: string;
  readonly connector: string;
  /** Undefined: the socket has not authenticated. */
  readonly sessionId?: string;
  /** Undefined: no user for its session (yet). */
  readonly userId?: string;
  readonly handshake: SessionsHandshake;
}

/** What the seed's README promised for a connection without a session, or a session without a user. */
export const NO_SESSION = '__nosession__';
export const NO_USER = '__nouser__';

/** Headers whose values are secrets: shown as `[redacted]`, never stored. */
const SECRET_HEADERS = new Set(['cookie', 'authorization', 'proxy-authorization', 'x-api-key']);

export function redactHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? '[redacted]' : value;
  }
  return out;
}

const field = (connector: string, socketId: string): string => `${connector}|${socketId}`;

/**
 * The connections of sessions namespaces across every connector, for the admin route
 * `GET /api/admin/namespace/connections/<key>` (docs/protocols/sessions.md). Each connector writes
 * its sockets' entries (one hash per namespace, under the namespace's hash tag) on connect and on
 * every re-binding, and removes them on disconnect. The entries of a connector that died without
 * removing them are dropped when listed once it has left the connector registry (the reaper forgets
 * it, docs/reliability.md), so a SIGKILL leaves nothing behind for long.
 */
export class SessionsConnections {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async put(namespace: string, entry: SessionsConnection): Promise<void> {
    await this.redis.hset(this.keys.sessionsConnections(namespace), field(entry.connector, entry.connectionId), JSON.stringify(entry));
  }

  async remove(namespace: string, connector: string, connectionId: string): Promise<void> {
    await this.redis.hdel(this.keys.sessionsConnections(namespace), field(connector, connectionId));
  }

  /** Every connection of live connectors, oldest handshake first; entries of gone connectors are deleted. */
  async list(namespace: string): Promise<SessionsConnection[]> {
    const key = this.keys.sessionsConnections(namespace);
    const [entries, live] = await Promise.all([this.redis.hgetall(key), this.redis.zrange(this.keys.connectors(), 0, -1)]);
    const alive = new Set(live);
    const found: SessionsConnection[] = [];
    const stale: string[] = [];
    for (const [name, text] of Object.entries(entries)) {
      let entry: SessionsConnection | undefined;
      try {
        entry = JSON.parse(text) as SessionsConnection;
      } catch {
        entry = undefined;
      }
      if (!entry || !alive.has(entry.connector)) stale.push(name);
      else found.push(entry);
    }
    if (stale.length > 0) await this.redis.hdel(key, ...stale);
    return found.sort((a, b) => a.handshake.issued - b.handshake.issued || a.connectionId.localeCompare(b.connectionId));
  }
}
