import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';

/**
 * Which connectors are alive. Each connector beats every few seconds; a connector whose last beat is
 * too old is dead (SIGKILL, host lost), and the first process to claim it cleans up what it left:
 * its clients must not stay "online" for ever.
 */
export class ConnectorRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async beat(connectorId: string, now = Date.now()): Promise<void> {
    await this.redis.zadd(this.keys.connectors(), now, connectorId);
  }

  /** Connectors whose last beat is older than `before` (ms). */
  stale(before: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.connectors(), '-inf', before);
  }

  /** Takes a dead connector for clean-up; true for exactly one caller. */
  async claim(connectorId: string): Promise<boolean> {
    return (await this.redis.zrem(this.keys.connectors(), connectorId)) === 1;
  }

  /** Pages through the clients a connector had, `count` at a time. */
  async *clients(connectorId: string, count = 500): AsyncGenerator<string[]> {
    const key = this.keys.connectorClients(connectorId);
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(key, cursor, 'COUNT', count);
      cursor = next;
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  async forget(connectorId: string): Promise<void> {
    await this.redis.del(this.keys.connectorClients(connectorId));
    await this.redis.zrem(this.keys.connectors(), connectorId);
  }
}
