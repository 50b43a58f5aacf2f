import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { publicPushData, type PushEnvelope, type PushRequest } from '@herald/protocol';
import type { OfflineQueue } from '@herald/queues';
import { MessageStore, RoomStore, Scripts, type Keys, type RedisClient } from '@herald/store';
import type { ConnectorBus } from './connector-bus';

export interface PushResult {
  readonly id: number;
  /** Clients online in the room when the push was accepted, minus `except`. */
  readonly expectAckCount: number;
}

export interface PushServiceOptions {
  /** Delay of the offline step after a push with `leaveMessage` (HERALD_OFFLINE_DELAY_MS). */
  readonly offlineDelayMs: number;
}

/**
 * The push path, in one place for every ingress (REST push, client push):
 * 1. store the message, its report and its history entry (one Lua script) — the push is accepted;
 * 2. with `leaveMessage`, enqueue the delayed `offline` job — before publishing, so that a crash
 *    between the two can lose only the live copy, which the offline step re-sends to whoever did not
 *    ack, never the offline copy;
 * 3. publish to every connector through the socket.io Redis adapter's channel (`extra: "lost"`
 *    skips this, to let client developers test their resync).
 */
export class PushService {
  private readonly messages: MessageStore;
  private readonly rooms: RoomStore;

  constructor(
    redis: RedisClient,
    keys: Keys,
    private readonly bus: ConnectorBus,
    private readonly offline: OfflineQueue,
    private readonly options: PushServiceOptions,
    private readonly logger: Logger,
  ) {
    const scripts = new Scripts(redis);
    this.messages = new MessageStore(redis, keys, scripts);
    this.rooms = new RoomStore(redis, keys, scripts);
  }

  async push(namespace: string, request: PushRequest, from?: string): Promise<PushResult> {
    // Independent reads and writes go out together (one round trip on logic's pipelined
    // connection): the count of online clients is read at the moment the push is stored.
    const [{ id, sendDate }, expectAckCount] = await Promise.all([
      this.messages.store(namespace, request, from),
      this.rooms.expectedAcks(namespace, request.room, request.except),
    ]);
    metrics.pushAccepted(namespace);
    if (request.leaveMessage) await this.offline.schedule({ namespace, id }, this.options.offlineDelayMs);
    if (request.extra !== 'lost') {
      const envelope: PushEnvelope = {
        message: { id, namespace, room: request.room, pushData: publicPushData(request.pushData), sendDate },
        ...(request.except !== undefined ? { except: request.except } : {}),
      };
      this.bus.push(namespace, envelope);
    }
    this.logger.debug({ namespace, id, room: request.room, expectAckCount }, 'push accepted');
    return { id, expectAckCount };
  }
}
