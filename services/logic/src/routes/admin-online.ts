import { Type } from '@sinclair/typebox';
import type { NamespaceStore, OnlineReport } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { NamespaceQueryField, consoleRoute, namedNamespace, queryReader } from './admin-query';

/** Rooms detailed by `GET /api/admin/namespace/online` (the console's table): the first ones by name. */
export const ONLINE_ROOMS_SHOWN = 100;

const OnlineQuery = Type.Object({ namespace: NamespaceQueryField }, { additionalProperties: false });
const readQuery = queryReader(OnlineQuery);

/**
 * `GET /api/admin/namespace/online?namespace=/demo`: one namespace's online figures for the console —
 * the namespace counts of `/api/admin/report/online`, clients by platform, and each online room
 * (the first {@link ONLINE_ROOMS_SHOWN} by name) with its counts per platform.
 */
export function adminOnlineRoutes({ app, namespaces, online }: { readonly app: FastifyInstance; readonly namespaces: NamespaceStore; readonly online: OnlineReport }): void {
  app.get('/api/admin/namespace/online', consoleRoute("One namespace's online figures: clients by platform and its online rooms", { querystring: OnlineQuery }), async (request) => {
    const { namespace } = readQuery(request.query);
    const nsp = (await namedNamespace(namespaces, namespace)).key;
    const [counts, platforms, rooms] = await Promise.all([online.namespace(nsp, false), online.platforms(nsp), online.onlineRooms(nsp)]);
    return {
      ...counts,
      platforms,
      rooms: await online.rooms(nsp, rooms.slice(0, ONLINE_ROOMS_SHOWN), false),
      roomsTruncated: rooms.length > ONLINE_ROOMS_SHOWN,
    };
  });
}
