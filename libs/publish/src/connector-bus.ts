import type { Logger } from '@herald/log';
import type { InterServerEvents, PushEnvelope, RoomsyncNotice, TransferNotice } from '@herald/wire';
import { isCluster, type Keys, type RedisClient } from '@herald/store';
import { fillTemplate, packetTemplate, serverSideEmitPacket, type AdapterKind, type AdapterPacket, type PacketTemplate } from './adapter-packet';

/**
 * What logic tells the connectors, through the socket.io Redis adapter's channel of a namespace
 * (`serverSideEmit`): every connector holding sockets of the namespace gets it.
 *
 * On a single Redis the connectors use the classic adapter (PUBLISH); on a Redis Cluster the sharded
 * adapter (SPUBLISH on a per-namespace channel). adapter-packet.ts encodes both. A push's packet is
 * usually published by the store script itself (PushService); this class publishes the rest.
 * Publishing is fire-and-forget: a refused or failed publish is logged, never thrown (a lost live
 * copy is re-delivered by the offline step, docs/decisions.md "Push path").
 */
export class ConnectorBus {
  /** Which adapter the connectors use. */
  readonly kind: AdapterKind;
  private readonly channelPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    private readonly logger?: Logger,
  ) {
    this.kind = isCluster(redis) ? 'sharded' : 'classic';
    this.channelPrefix = keys.socketIoChannel();
  }

  /**
   * The packet of a push whose id the store script assigns. `envelope` builds the envelope from
   * the id; the only function that knows the envelope's shape is the caller's.
   */
  pushTemplate(namespace: string, envelope: (id: number) => PushEnvelope): PacketTemplate {
    return packetTemplate(this.kind, this.channelPrefix, namespace, 'herald:push', envelope);
  }

  /** Publishes a push template once its id is known. */
  publishPush(namespace: string, template: PacketTemplate, id: number): void {
    this.publish(namespace, 'herald:push', fillTemplate(template, id));
  }

  /** Logs a publish the store script made and Redis refused (the push itself is stored). */
  refused(namespace: string, event: string, reason: string): void {
    this.logger?.warn({ err: reason, namespace, event }, 'redis refused the publish to the connectors; the offline step re-delivers');
  }

  private send<E extends keyof InterServerEvents>(namespace: string, event: E, payload: Parameters<InterServerEvents[E]>[0]): void {
    this.publish(namespace, event, serverSideEmitPacket(this.kind, this.channelPrefix, namespace, event, [payload]));
  }

  private publish(namespace: string, event: string, packet: AdapterPacket): void {
    const sent = this.kind === 'classic' ? this.redis.publish(packet.channel, packet.message) : this.redis.spublish(packet.channel, packet.message);
    sent.catch((error: unknown) => this.refused(namespace, event, (error as Error).message));
  }

  push(namespace: string, envelope: PushEnvelope): void {
    this.send(namespace, 'herald:push', envelope);
  }

  transfer(notice: TransferNotice): void {
    this.send(notice.namespace, 'herald:transfer', notice);
  }

  /** A roomsync notice to every connector holding sockets of the namespace. */
  roomsync(namespace: string, notice: RoomsyncNotice): void {
    this.send(namespace, 'herald:roomsync', notice);
  }
}
