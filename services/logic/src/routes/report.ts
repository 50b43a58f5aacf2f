import { Errors, HeraldError, isValidName } from '@herald/protocol';
import type { AdminRouteContext, AuthRouteContext } from './context';
import { flagParam, integerParam, readQuery } from './query';

/** Seed `report_push_ack_detail_max_limit`. */
const ACK_DETAIL_LIMIT = 1000;

/**
 * Reports of the caller's namespace (seed 002 routes 2–4 and HEAD's current-message-stat): the push
 * history, one push's report with its acks, who is online, and how many pushes lately.
 */
export function reportRoutes({ app, messages, online }: AuthRouteContext): void {
  app.get('/api/auth/report/push', async (request) => {
    const query = readQuery(request.query, ['page', 'size']);
    const page = integerParam(query['page'], 'page', 1, 1000, 1);
    const size = integerParam(query['size'], 'size', 1, 500, 20);
    return messages.history(request.namespace!.key, page, size);
  });

  app.get<{ Params: { id: string } }>('/api/auth/report/push/:id', async (request) => {
    const query = readQuery(request.query, ['ackDetail']);
    const detail = flagParam(query['ackDetail'], 'ackDetail');
    const namespace = request.namespace!.key;
    if (!/^[1-9][0-9]{0,15}$/.test(request.params.id)) throw new HeraldError(Errors.ID_NOT_EXISTS);
    const id = Number(request.params.id);
    const report = await messages.report(namespace, id);
    if (!report) throw new HeraldError(Errors.ID_NOT_EXISTS);
    if (!detail) return { ...report, ackIOSDetail: [], ackAndroidDetail: [], ackWebDetail: [], truncated: false };
    const acks = await messages.ackDetail(namespace, id, ACK_DETAIL_LIMIT);
    return {
      ...report,
      ackIOSDetail: acks.ios.ids,
      ackAndroidDetail: acks.android.ids,
      ackWebDetail: acks.web.ids,
      truncated: acks.ios.truncated || acks.android.truncated || acks.web.truncated,
    };
  });

  app.get('/api/auth/report/online', async (request) => {
    const query = readQuery(request.query, ['room', 'detail'], ['room']);
    const detail = flagParam(query['detail'], 'detail');
    const namespace = request.namespace!.key;
    if (query['room'] === undefined) return online.namespace(namespace, detail);
    const rooms = typeof query['room'] === 'string' ? [query['room']] : query['room'];
    if (rooms.length > 100 || !rooms.every((room) => isValidName('room', room))) throw new HeraldError(Errors.ROOM_INVALID);
    return online.rooms(namespace, rooms, detail);
  });

  app.get('/api/auth/namespace/current-message-stat', async (request) => {
    readQuery(request.query, []);
    return messages.currentStat(request.namespace!.key);
  });
}

/** `GET /api/admin/report/online?namespace&detail`: one namespace, or the sums over all of them. */
export function adminReportRoutes({ app, online, namespaces }: AdminRouteContext): void {
  app.get('/api/admin/report/online', async (request) => {
    const query = readQuery(request.query, ['namespace', 'detail']);
    const detail = flagParam(query['detail'], 'detail');
    const namespace = query['namespace'] as string | undefined;
    if (namespace === undefined) return online.all();
    if (!isValidName('namespace', namespace) || !(await namespaces.settings(namespace))) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
    return online.namespace(namespace, detail);
  });
}
