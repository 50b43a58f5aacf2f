import { Emitter } from '@socket.io/redis-emitter';
import type { InterServerEvents, PushEnvelope, TransferNotice } from '@herald/protocol';
import type { Keys, RedisClient } from '@herald/store';

/**
 * What logic tells the connectors, through the socket.io Redis adapter's request channel of a
 * namespace (`Emitter#serverSideEmit`): every connector holding sockets of the namespace gets it.
 */
export class ConnectorBus {
  private readonly emitter: Emitter;

  constructor(redis: RedisClient, keys: Keys) {
    this.emitter = new Emitter(redis, { key: keys.socketIoChannel() });
  }

  private send<E extends keyof InterServerEvents>(namespace: string, event: E, payload: Parameters<InterServerEvents[E]>[0]): void {
    this.emitter.of(namespace).serverSideEmit(event, payload);
  }

  push(namespace: string, envelope: PushEnvelope): void {
    this.send(namespace, 'herald:push', envelope);
  }

  transfer(notice: TransferNotice): void {
    this.send(notice.namespace, 'herald:transfer', notice);
  }
}
