import type { Logger } from '@herald/log';
import type { ProtocolName, StoredMessage, TransferNotice } from '@herald/wire';
import type { ConnectorBus, PushService } from '@herald/publish';
import type { ClientStore, InboxStore, Keys, NamespaceSettings, NamespaceStore, RedisClient } from '@herald/store';
import type { WebhookQueue } from '@herald/queues';
import type { RedisTarget } from '@herald/config';
import type { Acks } from './acks';
import type { IdentifyOptions } from './identify';
import type { ReapedClient } from './liveness';
import type { Rooms } from './rooms';
import type { HeraldSocket, Identity } from './socket-data';

/** What a protocol's handshake decided: who the client is, and the rooms it joins on connect. */
export interface Admission {
  readonly identity: Identity;
  /** Rooms joined on connect besides the user room and the client's persistent rooms. */
  readonly rooms: readonly string[];
  /**
   * The client says who it is after connecting (`CoreServices#identify`): until then the socket
   * has no client record, no user room and no rooms; `identity` must still be unique to the socket
   * (its clientId names the socket's own client room). The duplicate-client policy is not applied.
   */
  readonly anonymous?: boolean;
}

/** What the core hands a protocol's handshake besides the socket. */
export interface AdmitOptions {
  /** HERALD_CALLBACK_TIMEOUT_MS */
  readonly callbackTimeoutMs: number;
  /** HERALD_CALLBACK_ALLOW_PRIVATE */
  readonly callbackAllowPrivate: boolean;
}

/** A change of room membership that the room's other members may be told about. */
export interface PresenceChange {
  readonly kind: 'join' | 'leave';
  readonly room: string;
  /** On `leave`: the client left because it disconnected (it stays a member). */
  readonly clientOffline: boolean;
}

/** The event and arguments a delivered message is written as, for one protocol's clients. */
export interface Encoded {
  readonly event: string;
  readonly args: readonly unknown[];
}

/** The core services a protocol's event handlers use. */
export interface CoreServices {
  readonly rooms: Rooms;
  readonly acks: Acks;
  readonly clients: ClientStore;
  readonly inbox: InboxStore;
  /** Namespace settings (a client push reads `offline`, as the REST push does). */
  readonly namespaces: Pick<NamespaceStore, 'settings' | 'pages'>;
  /** The publish path (store, count, publish): the client-event ingress. */
  readonly push: PushService;
  /** Runs work of one socket one after the other (room changes, clean-up). */
  readonly serial: (socket: HeraldSocket, work: () => Promise<void>) => Promise<void>;
  /** The port this connector listens on (after start). */
  readonly port: () => number;
  /**
   * Names who an admitted socket is, after connecting, or makes it anonymous again (`null`):
   * core/identify.ts. With `evict`, other connections of that clientId on every connector are
   * evicted first (each told through `Protocol#evicted`).
   */
  readonly identify: (socket: HeraldSocket, identity: Identity | null, options?: IdentifyOptions) => Promise<void>;
  /** HERALD_CLIENT_PUSH_INTERVAL_MS */
  readonly clientPushIntervalMs: number;
  readonly logger: Logger;
  /** The connector's main Redis connection and key schema, for a protocol's own state (libs/store/src/<name>-*.ts). */
  readonly redis: RedisClient;
  readonly keys: Keys;
  /** The `webhooks` queue, for a protocol's outgoing calls (retried with backoff by the worker). */
  readonly webhooks: WebhookQueue;
  /** This connector, for protocols that keep state of their own beside the core's. */
  readonly connector: ConnectorContext;
}

/** What a protocol with state of its own needs to know about the connector it runs in. */
export interface ConnectorContext {
  /** The connector's id (the registry's, docs/reliability.md). */
  readonly id: string;
  /** Where Herald's Redis is (HERALD_REDIS_URL; the connection itself is `CoreServices#redis`). */
  readonly redisTarget: RedisTarget;
  /** The connector's root logger (CoreServices#logger names the socket's client). */
  readonly logger: Logger;
  /** What this connector tells every connector (inter-server events through the adapter's channel). */
  readonly bus: ConnectorBus;
}

/**
 * One wire protocol on the protocol-neutral core (docs/architecture.md). The core owns sockets,
 * identity records, rooms and presence state, delivery of the neutral envelope, acks and reports,
 * inboxes and eviction; it names no event of any protocol. A protocol says how its clients
 * authenticate, which events they send and get, how a message is written for them, what they are
 * told on connect, on presence changes, when evicted and when moved by a transfer. Its offline
 * policy lives in `@herald/wire` (OFFLINE_POLICIES) for the worker.
 */
export interface Protocol {
  readonly name: ProtocolName;
  /** Checks the handshake and says who the client is; throws a HeraldError to refuse it. */
  admit(socket: HeraldSocket, namespace: NamespaceSettings, options: AdmitOptions): Promise<Admission>;
  /** Binds the client events of an admitted socket (before the connect set-up runs). */
  bind(socket: HeraldSocket, core: CoreServices): void;
  /** Runs once the socket is recorded and in its rooms, in the socket's serial queue (replay, greeting). */
  connected(socket: HeraldSocket, core: CoreServices): Promise<void>;
  /** How a delivered message is written to this protocol's clients. */
  encode(message: StoredMessage): Encoded;
  /** Tells the room's other members that `socket` joined or left it (the core's server switch allowing). */
  presence(socket: HeraldSocket, change: PresenceChange): void;
  /** Tells the socket it is being disconnected because a newer connection of its client won. */
  evicted(socket: HeraldSocket): void;
  /** Tells the socket a REST transfer moved it into or out of a room. */
  transferred(socket: HeraldSocket, notice: TransferNotice): void;
  /**
   * Optional: a client of this protocol was connected to a connector that died; the reaper has
   * marked it offline (core/liveness.ts). Runs on the reaping connector: the protocol ends what it
   * keeps of that connection beyond the core's records.
   */
  reaped?(client: ReapedClient, core: CoreServices): Promise<void>;
  /**
   * Optional: connector `connectorId` died and the reaper has marked its clients offline (after
   * `reaped` for each). Runs once per dead connector, on the reaping connector, before the dead
   * one is forgotten: the protocol ends what it keeps of that connector's connections that were
   * no clients (anonymous sockets). A reaper may die half-way, so a second run must be harmless.
   */
  connectorReaped?(connectorId: string, core: CoreServices): Promise<void>;
}
