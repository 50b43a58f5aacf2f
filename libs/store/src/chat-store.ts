import { CHAT_UUID, chatDeviceClientId, userRoom } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { pipelineBySlot } from './slot-pipeline';

/** What a session token stands for (seed `tokens` map entry). */
export interface ChatSession {
  readonly userId: string;
  /** The socket that logged in: the token is refused on any other. */
  readonly socketId: string;
}

/** A conversation (seed README, `conversation/add`), stored as JSON. */
export interface ChatConversation {
  readonly id: string;
  readonly name?: string;
  readonly members: string[];
  readonly admin: string[];
  readonly protected: string[];
  readonly createdBy: string;
  readonly createdAt: number;
  /** The seed's custom fields (`atr1: 'value'` …). */
  readonly attributes: Record<string, unknown>;
}

/**
 * What the chat protocol (seed 004) keeps beyond the core's records, under the namespace's tag
 * `{<nsp>}` (one key per token or conversation, single-key operations only), so that the
 * namespace's flush (namespace-cleanup.ts, `SCAN MATCH {<nsp>}:*`) removes them with the rest:
 * - `{nsp}:chat:tok:<token>` — string JSON {@link ChatSession}, with the namespace's token TTL;
 * - `{nsp}:chat:conv:<id>` — string JSON {@link ChatConversation}, kept until the namespace is flushed.
 *
 * A user's iOS device is a client record of its own (`chatDeviceClientId`, platform `ios`) that is
 * a member of the user's room: the worker's offline step then finds it like any offline iOS client
 * and sends it an APNs alert (docs/protocols/chat.md "APNs").
 */
export class ChatStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  private token(nsp: string, token: string): string {
    return `${this.keys.prefix}{${nsp}}:chat:tok:${token}`;
  }

  private conversationKey(nsp: string, id: string): string {
    return `${this.keys.prefix}{${nsp}}:chat:conv:${id}`;
  }

  async createSession(nsp: string, token: string, session: ChatSession, ttlS: number): Promise<void> {
    await this.redis.set(this.token(nsp, token), JSON.stringify(session), 'EX', ttlS);
  }

  /** The session of a token, or undefined when it is unknown or expired. */
  async session(nsp: string, token: string): Promise<ChatSession | undefined> {
    const raw = await this.redis.get(this.token(nsp, token));
    if (!raw) return undefined;
    try {
      const parsed = JSON.parse(raw) as ChatSession;
      return typeof parsed.userId === 'string' && typeof parsed.socketId === 'string' ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  async dropSession(nsp: string, token: string): Promise<void> {
    await this.redis.del(this.token(nsp, token));
  }

  async saveConversation(nsp: string, conversation: ChatConversation): Promise<void> {
    await this.redis.set(this.conversationKey(nsp, conversation.id), JSON.stringify(conversation));
  }

  async conversation(nsp: string, id: string): Promise<ChatConversation | undefined> {
    const raw = await this.redis.get(this.conversationKey(nsp, id));
    return raw ? (JSON.parse(raw) as ChatConversation) : undefined;
  }

  /** For each user, whether a client of it is online on any connector now (its user room's online set). */
  async online(nsp: string, userIds: readonly string[]): Promise<boolean[]> {
    const rows = await pipelineBySlot(
      this.redis,
      userIds,
      (userId) => this.keys.roomOnline(nsp, userRoom(userId)),
      (pipeline, userId) => void pipeline.scard(this.keys.roomOnline(nsp, userRoom(userId))),
    );
    return rows.map(([count]) => Number(count) > 0);
  }

  /**
   * Registers (or with `null` forgets) the iOS device of a user: its client record holds the token,
   * and it is a member of the user's room for platform `ios` (never online: it has no socket).
   */
  async registerDevice(nsp: string, userId: string, deviceToken: string | null): Promise<string> {
    const clientId = chatDeviceClientId(nsp, userId);
    const key = this.keys.client(clientId);
    if (deviceToken === null) {
      await this.redis.hdel(key, 'device_token');
      return clientId;
    }
    const now = Date.now();
    const room = userRoom(userId);
    await this.redis.hset(key, {
      namespace: nsp,
      userid: userId,
      uuid: CHAT_UUID,
      platform: 'ios',
      device_token: deviceToken,
      update_date: String(now),
    });
    // The room's sets share its tag; the namespace's indexes share the namespace's.
    await this.redis.multi().sadd(this.keys.roomMembers(nsp, room), clientId).sadd(this.keys.roomMembersBy(nsp, room, 'ios'), clientId).exec();
    await this.redis.multi().sadd(this.keys.namespaceRooms(nsp), room).zadd(this.keys.namespaceClients(nsp), now, clientId).exec();
    return clientId;
  }

  /** The registered device token of a user's iOS device, if any. */
  async deviceToken(nsp: string, userId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.client(chatDeviceClientId(nsp, userId)), 'device_token')) ?? undefined;
  }
}
