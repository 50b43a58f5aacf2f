import type { PushService } from '@herald/push';
import type { MessageStore, NamespaceStore } from '@herald/store';
import type { FastifyInstance } from 'fastify';

/** What a route module of `/api/auth/*` gets: an encapsulated app whose requests are authenticated. */
export interface AuthRouteContext {
  readonly app: FastifyInstance;
  readonly push: PushService;
  readonly messages: MessageStore;
  readonly namespaces: NamespaceStore;
}

/** What a route module of `/api/admin/*` gets. */
export interface AdminRouteContext {
  readonly app: FastifyInstance;
  readonly namespaces: NamespaceStore;
}
