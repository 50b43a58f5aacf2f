import { publicPushData, type PushMessage } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import type { Scripts } from './scripts';
import { pipelineBySlot } from './slot-pipeline';

/** Default capacity of an inbox (seed `android_unread_message_list_max_limit`). */
export const INBOX_CAPACITY = 100;

/**
 * Each client's inbox: ids of messages it should have got and did not ack, replayed as
 * `offlineMessage` on its next connect until it acks them or they expire.
 */
export class InboxStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
    private readonly capacity = INBOX_CAPACITY,
  ) {}

  add(clientId: string, id: number, ttlMs: number): Promise<number> {
    return this.scripts.inboxAdd(this.keys.clientInbox(clientId), id, ttlMs, this.capacity);
  }

  /**
   * The messages waiting for a client, oldest first. An entry whose message expired is dropped
   * from the inbox and skipped — one by one, never failing the others (the seed lost the whole
   * batch on one expired message).
   */
  async pending(clientId: string, namespace: string): Promise<PushMessage[]> {
    const inbox = this.keys.clientInbox(clientId);
    const ids = await this.redis.zrange(inbox, 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.message(namespace, id), 'id', 'namespace', 'room', 'pushData', 'sendDate');
    const rows = ((await pipeline.exec()) ?? []) as [Error | null, (string | null)[]][];
    const messages: PushMessage[] = [];
    const gone: string[] = [];
    rows.forEach(([error, row], i) => {
      const [id, ns, room, pushData, sendDate] = row ?? [];
      if (error || !id || !room || !pushData) {
        gone.push(ids[i]!);
        return;
      }
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(pushData) as Record<string, unknown>;
      } catch {
        gone.push(ids[i]!);
        return;
      }
      messages.push({ id: Number(id), namespace: ns ?? namespace, room, pushData: publicPushData(data), sendDate: Number(sendDate) });
    });
    if (gone.length) await this.redis.zrem(inbox, ...gone);
    return messages;
  }

  /**
   * Several clients acknowledged messages (clientId → ids): they leave their inboxes, in one
   * pipeline (one per node group on a cluster) instead of one round trip per client.
   */
  async removeMany(acks: ReadonlyMap<string, readonly number[]>): Promise<void> {
    const entries = [...acks].filter(([, ids]) => ids.length > 0);
    if (entries.length === 0) return;
    await pipelineBySlot(
      this.redis,
      entries,
      ([clientId]) => this.keys.clientInbox(clientId),
      (pipeline, [clientId, ids]) => void pipeline.zrem(this.keys.clientInbox(clientId), ...ids.map(String)),
    );
  }

  /** The client acknowledged these messages: they leave its inbox. */
  async remove(clientId: string, ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.redis.zrem(this.keys.clientInbox(clientId), ...ids.map(String));
  }
}
