import type { RedisClient } from '@herald/store';
import { serverSideEmitPacket } from './adapter-packet';

export interface ShardedEmitterOptions {
  /**
   * The sharded adapter's `channelPrefix`: the adapter of namespace `/x` subscribes (SSUBSCRIBE) to
   * `<channelPrefix>#/x#`.
   * @default "socket.io"
   */
  readonly channelPrefix?: string;
}

/**
 * `serverSideEmit` towards socket.io servers that use the **sharded** Redis adapter
 * (`createShardedAdapter` of @socket.io/redis-adapter, Redis >= 7 sharded pub/sub), from a process
 * that holds no socket.io server (logic).
 *
 * @socket.io/redis-emitter 5.x only speaks the classic adapter's protocol (PUBLISH on
 * `<key>-request#<nsp>#`, socket.io-redis-emitter issue #127 asks for sharded support), so this
 * class publishes what the sharded adapter's own `serverSideEmit` publishes (adapter-packet.ts).
 * Only JSON-serialisable arguments, no acknowledgement: Herald's inter-server events are plain JSON
 * and fire-and-forget. tests/redis-cluster.test.ts proves it against the real adapter.
 */
export class ShardedEmitter {
  private readonly channelPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    options: ShardedEmitterOptions = {},
  ) {
    this.channelPrefix = options.channelPrefix ?? 'socket.io';
  }

  /** The channel the adapter of namespace `nsp` subscribes to. */
  channel(nsp: string): string {
    return `${this.channelPrefix}#${nsp}#`;
  }

  /**
   * Sends `event` with `args` to every server with an adapter for namespace `nsp`.
   * @returns how many subscribers (servers) the shard delivered it to.
   */
  async serverSideEmit(nsp: string, event: string, ...args: unknown[]): Promise<number> {
    const { channel, message } = serverSideEmitPacket('sharded', this.channelPrefix, nsp, event, args);
    return (await this.redis.spublish(channel, message)) as number;
  }
}
