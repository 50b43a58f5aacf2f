import { Type } from '@sinclair/typebox';
import { Errors, HeraldError, NAME_LIMITS, RoomName, isValidName, onError } from '@herald/wire';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AdminRouteContext, AuthRouteContext } from './context';
import { FlagParam, IntegerParam, NoQuery } from './query-params';
import { answers } from './responses';

/** Seed `report_push_ack_detail_max_limit`. */
const ACK_DETAIL_LIMIT = 1000;

const Count = Type.Integer({ minimum: 0 });
const Strings = Type.Array(Type.String());

/** A stored message with its delivery report (libs/store MessageReport). */
const MessageReport = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    namespace: Type.String(),
    room: Type.String(),
    pushData: Type.Record(Type.String(), Type.Unknown()),
    sendDate: Type.Integer({ description: 'Milliseconds since the epoch.' }),
    expire: Type.Number({ description: 'Hours.' }),
    leaveMessage: Type.Boolean(),
    apnsName: Type.Optional(Type.String()),
    except: Type.Optional(Type.String()),
    extra: Type.Optional(Type.String()),
    from: Type.Optional(Type.String({ description: 'The clientId of a client push.' })),
    onlineClientCount: Type.Integer({ minimum: 0, description: 'Sockets the message was written to, over every connector.' }),
    ackCount: Count,
    ackIOSCount: Count,
    ackAndroidCount: Count,
    apnsCount: Count,
    apnsSuccessCount: Count,
    apnsEnv: Type.Union([Type.String(), Type.Null()]),
    apnsFailures: Type.Record(Type.String(), Type.Integer()),
    offline: Type.Union([Type.String(), Type.Null()], { description: 'The offline step: `inbox:<n> apns:<m>`, once it ran.' }),
    result: Type.String(),
  },
  { additionalProperties: true },
);

const PushReport = Type.Composite([
  MessageReport,
  Type.Object({ ackIOSDetail: Strings, ackAndroidDetail: Strings, ackWebDetail: Strings, truncated: Type.Boolean() }),
], { additionalProperties: true });

const RoomOnline = Type.Object(
  {
    name: Type.String(),
    userCount: Count,
    clientCount: Count,
    totalClientCount: Count,
    iosClientCount: Count,
    totalIOSClientCount: Count,
    androidClientCount: Count,
    totalAndroidClientCount: Count,
    webClientCount: Count,
    totalWebClientCount: Count,
    client: Type.Optional(Strings),
    user: Type.Optional(Strings),
  },
  { additionalProperties: true },
);

const NamespaceOnline = Type.Object(
  {
    roomCount: Count,
    userCount: Count,
    clientCount: Count,
    totalClientCount: Type.Optional(Count),
    room: Type.Optional(Strings),
    client: Type.Optional(Strings),
    user: Type.Optional(Strings),
  },
  { additionalProperties: true },
);

const MessageStat = Type.Object(
  { currMinuteMessageCount: Count, currHourMessageCount: Count, currDateMessageCount: Count },
  { additionalProperties: false },
);

const auth = { tags: ['reports'], security: [{ namespace: [] }] };

/**
 * Reports of the caller's namespace (seed 002 routes 2–4 and HEAD's current-message-stat): the push
 * history, one push's report with its acks, who is online, and how many pushes lately.
 */
export function reportRoutes({ app: plain, messages, online }: AuthRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/auth/report/push',
    {
      schema: {
        ...auth,
        summary: 'The newest pushes of the namespace, newest first',
        querystring: Type.Object(
          { page: IntegerParam('page', 1, 1000, 1, 'Page, from 1.'), size: IntegerParam('size', 1, 500, 20, 'Reports per page.') },
          { additionalProperties: false },
        ),
        response: answers(Type.Array(MessageReport)),
      },
    },
    async (request) => messages.history(request.namespace!.key, request.query.page ?? 1, request.query.size ?? 20),
  );

  app.get(
    '/api/auth/report/push/:id',
    {
      schema: {
        ...auth,
        summary: 'The delivery report of one push',
        params: Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'The message id.', ...onError({ error: 'ID_NOT_EXISTS' }) }) }),
        querystring: Type.Object({ ackDetail: FlagParam('ackDetail', 'List the acking clientIds (at most 1000 per platform).') }, { additionalProperties: false }),
        response: answers(PushReport),
      },
    },
    async (request) => {
      const namespace = request.namespace!.key;
      const id = Number(request.params.id);
      const report = await messages.report(namespace, id);
      if (!report) throw new HeraldError(Errors.ID_NOT_EXISTS);
      if (!request.query.ackDetail) return { ...report, ackIOSDetail: [], ackAndroidDetail: [], ackWebDetail: [], truncated: false };
      const acks = await messages.ackDetail(namespace, id, ACK_DETAIL_LIMIT);
      return {
        ...report,
        ackIOSDetail: acks.ios.ids,
        ackAndroidDetail: acks.android.ids,
        ackWebDetail: acks.web.ids,
        truncated: acks.ios.truncated || acks.android.truncated || acks.web.truncated,
      };
    },
  );

  app.get(
    '/api/auth/report/online',
    {
      schema: {
        ...auth,
        summary: 'Who is online: the namespace, or one entry per room',
        querystring: Type.Object(
          {
            room: Type.Optional(Type.Array(RoomName, { maxItems: 100, description: 'Repeatable, at most 100.', ...onError({ error: 'ROOM_INVALID' }) })),
            detail: FlagParam('detail', 'Include the lists of clients, users (and rooms) when they hold at most 1000 entries.'),
          },
          { additionalProperties: false },
        ),
        response: answers(Type.Union([NamespaceOnline, Type.Array(RoomOnline)])),
      },
    },
    async (request) => {
      const namespace = request.namespace!.key;
      const { room, detail = false } = request.query;
      if (room === undefined) return online.namespace(namespace, detail);
      return online.rooms(namespace, room, detail);
    },
  );

  app.get(
    '/api/auth/namespace/current-message-stat',
    { schema: { ...auth, summary: 'Pushes accepted this minute, hour and day (UTC)', querystring: NoQuery, response: answers(MessageStat) } },
    async (request) => messages.currentStat(request.namespace!.key),
  );
}

/** `GET /api/admin/report/online?namespace&detail`: one namespace, or the sums over all of them. */
export function adminReportRoutes({ app: plain, online, namespaces }: AdminRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/admin/report/online',
    {
      schema: {
        tags: ['reports'],
        security: [{ admin: [] }],
        summary: 'Who is online: one namespace, or the sums over every namespace',
        querystring: Type.Object(
          {
            namespace: Type.Optional(Type.String({ maxLength: NAME_LIMITS.namespace, description: 'One namespace, e.g. `/demo`.', ...onError({ error: 'NAMESPACE_NOT_FOUND' }) })),
            detail: FlagParam('detail', 'Include the lists (with `namespace`).'),
          },
          { additionalProperties: false },
        ),
        response: answers(NamespaceOnline),
      },
    },
    async (request) => {
      const { namespace, detail = false } = request.query;
      if (namespace === undefined) return online.all();
      if (!isValidName('namespace', namespace) || !(await namespaces.settings(namespace))) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
      return online.namespace(namespace, detail);
    },
  );
}
