import { Errors, HeraldError, parseFlag } from '@herald/protocol';
import type { AuthRouteContext } from './context';

/** Seed `report_push_ack_detail_max_limit`. */
const ACK_DETAIL_LIMIT = 1000;

function rejectUnknownQuery(query: unknown, allowed: readonly string[]): Record<string, string> {
  const q = (query ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(q)) {
    if (!allowed.includes(key)) throw new HeraldError(Errors.QUERY_INVALID, `unknown parameter ${key.slice(0, 64)}`);
    if (typeof value !== 'string') throw new HeraldError(Errors.QUERY_INVALID, `${key} given more than once`);
  }
  return q as Record<string, string>;
}

/** `GET /api/auth/report/push/:id?ackDetail` (seed 002 route 3), numbers as numbers. */
export function reportRoutes({ app, messages }: AuthRouteContext): void {
  app.get<{ Params: { id: string } }>('/api/auth/report/push/:id', async (request) => {
    const query = rejectUnknownQuery(request.query, ['ackDetail']);
    let detail = false;
    if (query['ackDetail'] !== undefined) {
      const flag = query['ackDetail'] === '1' ? true : query['ackDetail'] === '0' ? false : parseFlag(query['ackDetail']);
      if (flag === undefined) throw new HeraldError(Errors.QUERY_INVALID, 'ackDetail must be true or false');
      detail = flag;
    }
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
}
