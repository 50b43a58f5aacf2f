import { Emitter } from '@socket.io/redis-emitter';
import type { Logger } from '@herald/log';
import type { InterServerEvents, PushEnvelope, TransferNotice } from '@herald/protocol';
import { isCluster, type Keys, type RedisClient } from '@herald/store';
import { ShardedEmitter } from './sharded-emitter';

/**
 * What logic tells the connectors, through the socket.io Redis adapter's channel of a namespace
 * (`serverSideEmit`): every connector holding sockets of the namespace gets it.
 *
 * On a single Redis the connectors use the classic adapter and this publishes with
 * @socket.io/redis-emitter; on a Redis Cluster they use the sharded adapter (sharded pub/sub) and
 * this publishes with {@link ShardedEmitter}. Publishing is fire-and-forget on both: a lost live copy
 * is re-delivered by the offline step (docs/decisions.md, "Push path").
 */
export class ConnectorBus {
  private readonly emitter: Emitter | undefined;
  private readonly sharded: ShardedEmitter | undefined;

  constructor(
    redis: RedisClient,
    keys: Keys,
    private readonly logger?: Logger,
  ) {
    if (isCluster(redis)) this.sharded = new ShardedEmitter(redis, { channelPrefix: keys.socketIoChannel() });
    else this.emitter = new Emitter(redis, { key: keys.socketIoChannel() });
  }

  private send<E extends keyof InterServerEvents>(namespace: string, event: E, payload: Parameters<InterServerEvents[E]>[0]): void {
    if (this.emitter) {
      this.emitter.of(namespace).serverSideEmit(event, payload);
      return;
    }
    this.sharded!.serverSideEmit(namespace, event, payload).catch((error: unknown) =>
      this.logger?.warn({ err: (error as Error).message, namespace, event }, 'could not publish to the connectors'),
    );
  }

  push(namespace: string, envelope: PushEnvelope): void {
    this.send(namespace, 'herald:push', envelope);
  }

  transfer(notice: TransferNotice): void {
    this.send(notice.namespace, 'herald:transfer', notice);
  }
}
