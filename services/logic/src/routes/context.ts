import type { ConnectorBus, PushService } from '@herald/publish';
import type { ClientStore, Keys, MessageStore, NamespaceStore, OnlineReport, RedisClient, RoomMembers } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import type { AuthFailures } from '../plugins/auth';

/** What a route module of `/api/auth/*` gets: an encapsulated app whose requests are authenticated. */
export interface AuthRouteContext {
  readonly app: FastifyInstance;
  readonly push: PushService;
  readonly bus: ConnectorBus;
  readonly messages: MessageStore;
  readonly namespaces: NamespaceStore;
  readonly clients: ClientStore;
  readonly members: RoomMembers;
  readonly online: OnlineReport;
  /** The failed-authentication limit, for routes that check it in their own Redis call. */
  readonly failures: AuthFailures;
  /** HERALD_IDEMPOTENCY_TTL_S and HERALD_PUSH_BATCH_MAX. */
  readonly pushLimits: { readonly idempotencyTtlS: number; readonly batchMax: number };
  /** `HERALD_CALLBACK_ALLOW_PRIVATE`: callbacks may name loopback and link-local addresses. */
  readonly allowPrivateCallbacks: boolean;
}

/** What a route module of `/api/admin/*` gets. */
export interface AdminRouteContext {
  readonly app: FastifyInstance;
  readonly namespaces: NamespaceStore;
  readonly online: OnlineReport;
}

/** What the namespace routes of `/api/admin/*` get besides: Redis for the clean-up, and its legacy window. */
export interface AdminNamespaceRouteContext extends AdminRouteContext {
  readonly redis: RedisClient;
  readonly keys: Keys;
  /** `HERALD_LEGACY_CLIENT_HOURS`: clients not seen for this long are legacy. */
  readonly legacyClientHours: number;
  /** `HERALD_CALLBACK_ALLOW_PRIVATE`: callbacks may name loopback and link-local addresses. */
  readonly allowPrivateCallbacks: boolean;
}
