import { Type } from '@sinclair/typebox';
import { Errors, HeraldError, PushBody, validatePushRequest } from '@herald/wire';
import type { PushService } from '@herald/publish';
import type { MessageStore, MessageTimeline, NamespaceStore } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { DigitsField, NamespaceQueryField, boundedInteger, consoleRoute, namedNamespace, queryReader } from './admin-query';

/** What the admin console's message routes get. */
export interface AdminMessageRouteContext {
  readonly app: FastifyInstance;
  readonly namespaces: NamespaceStore;
  readonly push: PushService;
  readonly messages: MessageStore;
  readonly timeline: MessageTimeline;
}

/** Seed `report_push_ack_detail_max_limit`, as on `/api/auth/report/push/:id`. */
const ACK_DETAIL_LIMIT = 1000;

const Flag = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]);
const NamespaceQuery = Type.Object({ namespace: NamespaceQueryField }, { additionalProperties: false });
const HistoryQuery = Type.Object({ namespace: NamespaceQueryField, page: Type.Optional(DigitsField), size: Type.Optional(DigitsField) }, { additionalProperties: false });
const ReportQuery = Type.Object({ namespace: NamespaceQueryField, ackDetail: Type.Optional(Flag) }, { additionalProperties: false });
const readNamespaceQuery = queryReader(NamespaceQuery);
const readHistoryQuery = queryReader(HistoryQuery);
const readReportQuery = queryReader(ReportQuery);

/** `:id` of a message: a positive integer, else the seed's "this id not exists". */
function messageId(raw: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new HeraldError(Errors.ID_NOT_EXISTS);
  return Number(raw);
}

/**
 * The operator's view of any namespace's messages (the admin console): push on its behalf, its push
 * history and reports, and one message's delivery timeline. The namespace is named in
 * `?namespace=`; the admin credentials stand for the namespace's own.
 */
export function adminMessageRoutes({ app, namespaces, push, messages, timeline }: AdminMessageRouteContext): void {
  app.post('/api/admin/push', consoleRoute('Push to a namespace on its behalf (the report names `from: admin`)', { querystring: NamespaceQuery, body: PushBody }), async (request) => {
    const { namespace } = readNamespaceQuery(request.query);
    const settings = await namedNamespace(namespaces, namespace);
    const body = validatePushRequest(request.body, settings.offline);
    // `from: admin` tells the report (and the timeline) who pushed.
    return push.push(settings.key, body, 'admin');
  });

  app.get('/api/admin/report/push', consoleRoute("A namespace's push history with its reports", { querystring: HistoryQuery }), async (request) => {
    const query = readHistoryQuery(request.query);
    const settings = await namedNamespace(namespaces, query.namespace);
    const page = boundedInteger(query.page, 'page', 1, 1000, 1);
    const size = boundedInteger(query.size, 'size', 1, 500, 20);
    return messages.history(settings.key, page, size);
  });

  app.get<{ Params: { id: string } }>('/api/admin/report/push/:id', consoleRoute('One push report, with ack details on request', { querystring: ReportQuery }), async (request) => {
    const query = readReportQuery(request.query);
    const settings = await namedNamespace(namespaces, query.namespace);
    const id = messageId(request.params.id);
    const report = await messages.report(settings.key, id);
    if (!report) throw new HeraldError(Errors.ID_NOT_EXISTS);
    if (query.ackDetail !== 'true' && query.ackDetail !== '1') {
      return { ...report, ackIOSDetail: [], ackAndroidDetail: [], ackWebDetail: [], truncated: false };
    }
    const acks = await messages.ackDetail(settings.key, id, ACK_DETAIL_LIMIT);
    return {
      ...report,
      ackIOSDetail: acks.ios.ids,
      ackAndroidDetail: acks.android.ids,
      ackWebDetail: acks.web.ids,
      truncated: acks.ios.truncated || acks.android.truncated || acks.web.truncated,
    };
  });

  app.get<{ Params: { id: string } }>('/api/admin/report/push/:id/timeline', consoleRoute("One message's delivery timeline", { querystring: NamespaceQuery }), async (request) => {
    const { namespace } = readNamespaceQuery(request.query);
    const settings = await namedNamespace(namespaces, namespace);
    const id = messageId(request.params.id);
    const view = await timeline.read(settings.key, id);
    if (!view) throw new HeraldError(Errors.ID_NOT_EXISTS);
    return { id, namespace: settings.key, ...view };
  });
}
