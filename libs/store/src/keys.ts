import type { RedisTarget } from '@herald/config';
import type { Platform } from '@herald/wire';

export interface KeysOptions {
  /**
   * The keys are for a Redis Cluster: BullMQ's prefix becomes a hash tag (`{h:q}`), since every
   * BullMQ script touches several keys of one queue. The other keys are the same on both targets.
   * @default false
   */
  readonly cluster?: boolean;
}

/**
 * The Redis key schema (docs/data-model.md explains each key).
 *
 * Hash tags: every key of one namespace's messages shares the tag `{<nsp>}`; every key of one room
 * shares `{<nsp>|<room>}`. A Lua script only touches keys of one tag, so it runs on Redis Cluster
 * (all its keys hash to one slot). Names can never contain `{`, `}`, `|` or `:` (names.ts), so a
 * tag cannot be forged by a room or namespace name.
 */
export class Keys {
  /** True when the keys are for a Redis Cluster (changes the BullMQ prefix only). */
  readonly cluster: boolean;

  constructor(
    readonly prefix: string,
    options: KeysOptions = {},
  ) {
    this.cluster = options.cluster ?? false;
  }

  /** The key schema of a service's configuration: its prefix, and a cluster target or not. */
  static of(config: { readonly redisPrefix: string; readonly redis: RedisTarget }): Keys {
    return new Keys(config.redisPrefix, { cluster: config.redis.kind === 'cluster' });
  }

  // ---- namespaces (not tagged: single-key operations only)

  /** zset of namespace names (score 0), the registry. */
  namespaceIndex(): string {
    return `${this.prefix}ns`;
  }

  /** hash of one namespace's settings. */
  namespace(nsp: string): string {
    return `${this.prefix}ns:${nsp}`;
  }

  /** pub/sub channel announcing namespace saves and deletions. */
  namespaceChannel(): string {
    return `${this.prefix}ns-changed`;
  }

  // ---- messages, reports, history: tag {<nsp>}

  private nsTag(nsp: string): string {
    return `${this.prefix}{${nsp}}`;
  }

  /** string counter of message ids in a namespace. */
  messageSeq(nsp: string): string {
    return `${this.nsTag(nsp)}:seq`;
  }

  /** Prefix of message hashes; the push script appends the id. */
  messagePrefix(nsp: string): string {
    return `${this.nsTag(nsp)}:m:`;
  }

  /** hash of one message and its delivery report. */
  message(nsp: string, id: number | string): string {
    return `${this.messagePrefix(nsp)}${id}`;
  }

  /** set of clientIds of one platform that acked a message. */
  acks(nsp: string, id: number | string, platform: Platform): string {
    return `${this.nsTag(nsp)}:a:${id}:${platform}`;
  }

  /**
   * list of the clientIds the offline step of one message sends APNs to, in batch order: written
   * once, complete, before any batch is enqueued, so that a re-run builds the same batches.
   */
  apnsAudience(nsp: string, id: number | string): string {
    return `${this.nsTag(nsp)}:apns-aud:${id}`;
  }

  /** The audience list while the offline step builds it (renamed to apnsAudience when complete). */
  apnsAudienceDraft(nsp: string, id: number | string): string {
    return `${this.nsTag(nsp)}:apns-aud-draft:${id}`;
  }

  /** hash clientId → APNs outcome of one message, per device ("why did this device get nothing"). */
  apnsOutcomes(nsp: string, id: number | string): string {
    return `${this.nsTag(nsp)}:apns:${id}`;
  }

  /**
   * string marking a connector's report batch as applied (report-batch.lua), so that the same batch
   * sent again (a retry, or ioredis resending a command whose reply was lost) changes nothing.
   */
  reportBatchMark(nsp: string, token: string): string {
    return `${this.nsTag(nsp)}:rb:${token}`;
  }

  /** list of one message's delivery timeline entries (JSON), capped, expiring with the message. */
  timeline(nsp: string, id: number | string): string {
    return `${this.nsTag(nsp)}:t:${id}`;
  }

  /** list of the namespace's newest message ids (report history). */
  history(nsp: string): string {
    return `${this.nsTag(nsp)}:hist`;
  }

  /** Prefix of the per-minute, per-hour, per-day push counters; the push script appends the period. */
  statPrefix(nsp: string): string {
    return `${this.nsTag(nsp)}:stat:`;
  }

  /**
   * string `<body digest> <id>:<expectAckCount>,...` of one `Idempotency-Key` of the namespace: what
   * the push script answered first (with a TTL, HERALD_IDEMPOTENCY_TTL_S). Same tag as the messages,
   * so the script that stores a push writes it in the same call.
   */
  idempotency(nsp: string, key: string): string {
    return `${this.nsTag(nsp)}:idem:${key}`;
  }

  /** zset of every client of the namespace, scored by its last connect (ms): legacy clean-up, flush. */
  namespaceClients(nsp: string): string {
    return `${this.nsTag(nsp)}:clients`;
  }

  /** set of every room ever joined in the namespace (user rooms included): reports, flush. */
  namespaceRooms(nsp: string): string {
    return `${this.nsTag(nsp)}:rooms`;
  }

  /** set of the namespace's clients online now. */
  namespaceOnline(nsp: string): string {
    return `${this.nsTag(nsp)}:online`;
  }

  /** hash userid → number of that user's clients online now. */
  namespaceOnlineUsers(nsp: string): string {
    return `${this.nsTag(nsp)}:online-users`;
  }

  // ---- room membership: tag {<nsp>|<room>}

  private roomTag(nsp: string, room: string): string {
    return `${this.prefix}{${nsp}|${room}}`;
  }

  /** set of clientIds online in the room (all platforms). */
  roomOnline(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:on`;
  }

  /** set of clientIds of one platform online in the room. */
  roomOnlineBy(nsp: string, room: string, platform: Platform): string {
    return `${this.roomTag(nsp, room)}:on:${platform}`;
  }

  /** hash userid → number of that user's clients online in the room. */
  roomOnlineUsers(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:on-users`;
  }

  /**
   * hash clientId → the connection (socket id) that made it online in the room: a disconnect's
   * clean-up only takes the client offline when it is still that connection's (room-offline-4.lua).
   */
  roomOnlineConnections(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:on-sid`;
  }

  /** set of every clientId that joined the room and did not leave it (offline delivery targets). */
  roomMembers(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:all`;
  }

  /** the same, one platform. */
  roomMembersBy(nsp: string, room: string, platform: Platform): string {
    return `${this.roomTag(nsp, room)}:all:${platform}`;
  }

  // ---- clients: tag {<clientId>} (clientIds contain no braces: names.ts)

  /** hash of one client: identity, connection times, device settings (docs/data-model.md). */
  client(clientId: string): string {
    return `${this.prefix}c:{${clientId}}`;
  }

  /** set of the rooms the client joined and did not leave (re-joined on every connect). */
  clientRooms(clientId: string): string {
    return `${this.prefix}c:{${clientId}}:rooms`;
  }

  /** set of rooms whose pushes must not wake this iOS device through APNs (do-not-disturb). */
  clientMuted(clientId: string): string {
    return `${this.prefix}c:{${clientId}}:dnd`;
  }

  /** zset of message ids waiting for this client (its inbox), scored by id: oldest first. */
  clientInbox(clientId: string): string {
    return `${this.prefix}c:{${clientId}}:inbox`;
  }

  // ---- connectors

  /** zset of connector ids scored by their last heartbeat (ms). */
  connectors(): string {
    return `${this.prefix}connectors`;
  }

  /** set of the clientIds connected to one connector. */
  connectorClients(connectorId: string): string {
    return `${this.prefix}conn:{${connectorId}}:clients`;
  }

  /** Failed authentications of one client address in the current window (logic's rate limit). */
  authFailures(address: string): string {
    return `${this.prefix}authfail:${address}`;
  }

  // ---- socket.io and BullMQ

  /** Channel prefix of the socket.io Redis adapter and emitter. */
  socketIoChannel(): string {
    return `${this.prefix}sio`;
  }

  /**
   * BullMQ prefix of Herald's queues: `h:q` on a single server; `{h:q}` on a cluster, a hash tag so
   * that each BullMQ script (which touches several keys of a queue) stays on one slot (BullMQ,
   * "Redis Cluster" pattern). The single-server name is unchanged, so no migration is needed.
   */
  queuePrefix(): string {
    return this.cluster ? `{${this.prefix}q}` : `${this.prefix}q`;
  }

  // ---- sessions protocol (seed 003)

  /** hash of a sessions namespace's connections: field `<connectorId>|<socketId>` → JSON record. */
  sessionsConnections(nsp: string): string {
    return `${this.nsTag(nsp)}:sess:conns`;
  }
}
