import type { RedisClient } from '@herald/store';

/**
 * `MessageType.SERVER_SIDE_EMIT` of socket.io-adapter's `ClusterAdapter` (cluster-adapter.ts), the
 * base class of @socket.io/redis-adapter's sharded adapter.
 */
const SERVER_SIDE_EMIT = 9;

/**
 * `uid` the ClusterAdapter reserves for emitters (`EMITTER_UID`): a message from it is never taken
 * for one of the adapter's own, and it counts as no server in the adapter's heartbeats.
 */
const EMITTER_UID = 'emitter';

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
 * class publishes what the sharded adapter's own `serverSideEmit` publishes: SPUBLISH on the
 * namespace channel of `{uid, nsp, type: SERVER_SIDE_EMIT, data: {packet: [event, ...args]}}`,
 * JSON-encoded (the adapter decodes a message starting with `{` as JSON, anything else as
 * MessagePack). Only JSON-serialisable arguments, no acknowledgement: Herald's inter-server events
 * are plain JSON and fire-and-forget. tests/redis-cluster.test.ts proves it against the real adapter.
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
    const message = { uid: EMITTER_UID, nsp, type: SERVER_SIDE_EMIT, data: { packet: [event, ...args] } };
    return (await this.redis.spublish(this.channel(nsp), JSON.stringify(message))) as number;
  }
}
