import { Type } from '@sinclair/typebox';
import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { serverSideEmitPacket, type ConnectorBus, type PushService } from '@herald/publish';
import {
  DEFAULT_EXPIRE_HOURS,
  Errors,
  HeraldError,
  RESERVED_EVENT_NAMES,
  isValidName,
  webserviceArgs,
  webserviceSettings,
  type CatalogueEntry,
  type PushRequest,
  type WebserviceDelivery,
} from '@herald/wire';
import { WebserviceStore, verifySecret, type Keys, type NamespaceStore, type RedisClient } from '@herald/store';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { isStoreUnavailable } from '../../plugins/errors';
import type { AuthFailures } from '../../plugins/auth';
import { FormBodyError, parseFormBody } from './form-body';

export interface WebserviceRouteContext {
  /** An encapsulated app: these routes answer plain text, with their own error handler. */
  readonly app: FastifyInstance;
  readonly namespaces: Pick<NamespaceStore, 'settings'>;
  readonly push: PushService;
  readonly bus: ConnectorBus;
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly failures: AuthFailures;
  readonly logger: Logger;
}

/** The key the announcement template starts with; the script puts the id and devices in its place. */
const ANNOUNCE_MARK = '__herald_webservice__';

/** Most rooms one `/send` may name. */
export const MAX_SEND_ROOMS = 1000;
/** Longest event name. */
export const MAX_EVENT_LENGTH = 200;

/** A refusal of the seed routes: its status and its plain-text body. */
class PlainRefusal extends Error {
  override readonly name = 'PlainRefusal';
  constructor(
    readonly status: number,
    readonly text: string,
  ) {
    super(text);
  }
}

function refuse(entry: CatalogueEntry, detail?: string): PlainRefusal {
  return new PlainRefusal(entry.status, detail === undefined ? entry.msg : `${entry.msg}: ${detail}.`);
}

const bodyInvalid = (detail: string) => refuse(Errors.WS_SEND_BODY_INVALID, detail);

/** Fastify's own refusals of a body, as plain text. */
const FRAMEWORK: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'Content-Type must be application/json or application/x-www-form-urlencoded.'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'Request body too large.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'Invalid body: empty JSON body.'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'Invalid body: not valid JSON.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'Invalid body: wrong Content-Length.'],
};

function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.status(status).type('text/plain; charset=utf-8').send(text);
}

/** What `/send` delivers, checked. */
interface SendBody {
  readonly rooms: string[];
  readonly event: string;
  readonly args: unknown[];
}

/**
 * The body of `/send`, checked: the seed checked nothing (a missing `event` emitted `undefined`,
 * a missing `rooms` sent to a room named `undefined`), Herald answers what is wrong.
 */
function readBody(body: unknown): SendBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bodyInvalid('the body must be an object {rooms, event, args}');
  const { rooms, event, args } = body as Record<string, unknown>;
  if (typeof event !== 'string' || event === '' || event.length > MAX_EVENT_LENGTH) throw bodyInvalid(`event must be a name of 1 to ${MAX_EVENT_LENGTH} characters`);
  if (RESERVED_EVENT_NAMES.includes(event)) throw bodyInvalid(`event ${event} is reserved by socket.io`);
  const list = typeof rooms === 'string' ? [rooms] : rooms;
  if (!Array.isArray(list) || !list.every((room) => isValidName('room', room))) throw bodyInvalid('rooms must be a room name or a list of room names');
  const unique = [...new Set(list as string[])];
  if (unique.length > MAX_SEND_ROOMS) throw bodyInvalid(`at most ${MAX_SEND_ROOMS} rooms`);
  return { rooms: unique, event, args: webserviceArgs(args) };
}

/** A query parameter given once as text; anything else counts as missing. */
function param(query: unknown, name: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const SEND_DESCRIPTION = [
  'Seed 001 (crossroads/socket.io-webservice) `POST /send`, kept as the seed answered it: **plain-text** answers, not `{code, msg}`.',
  'Query: `site` (the namespace without its leading `/`), `apiKey` (the namespace setting `api_key`), `resync` (`true` or `1` turns it on).',
  'Body (`application/json` or `application/x-www-form-urlencoded` with bracket keys): `{rooms: string|string[], event: string, args: any|any[]}`.',
  "Answers `200 OK`; `400 Missing query param 'site' or 'apiKey'.`; `401 ApiKey invalid.`; `400 Invalid body: <reason>.`; `429` after too many wrong keys from one address.",
  'docs/protocols/webservice.md.',
].join('\n\n');

/**
 * The seed's REST routes (seed 001): `POST /send` and `GET /healthcheck`. They answer the seed's
 * plain texts, so they live in their own encapsulated context with their own body parsers and
 * error handler instead of Herald's `{code, msg}` one (docs/protocols/webservice.md, "REST").
 *
 * Without a user room prefix `/send` is a broadcast to each room through the publish path
 * (PushService: stored for its report, counted, on every connector). With one, the rooms expand
 * to user rooms and the message is stored in each device's queue (webservice-send-1.lua), then
 * announced to the connectors (`herald:webservice`), which emit it with an ack callback.
 */
export function webserviceRoutes(context: WebserviceRouteContext): void {
  const { app, namespaces, push, bus, redis, keys, failures, logger } = context;
  const store = new WebserviceStore(redis, keys);
  const channelPrefix = keys.socketIoChannel();

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseFormBody(body as string));
    } catch (error) {
      done(error instanceof FormBodyError ? bodyInvalid(error.message) : (error as Error), undefined);
    }
  });

  app.setErrorHandler((error: FastifyError | PlainRefusal | HeraldError | Error, request, reply) => {
    if (error instanceof PlainRefusal) return sendText(reply, error.status, error.text);
    if (error instanceof HeraldError) return sendText(reply, error.status, `${error.message}.`);
    const framework = 'code' in error && typeof error.code === 'string' ? FRAMEWORK[error.code] : undefined;
    if (framework) return sendText(reply, framework[0], framework[1]);
    if (error instanceof SyntaxError || ('statusCode' in error && error.statusCode === 400)) return sendText(reply, 400, 'Invalid body: not valid JSON.');
    if (isStoreUnavailable(error)) {
      request.log.warn({ err: error.message }, 'redis unavailable');
      void reply.header('retry-after', '1');
      return sendText(reply, 503, 'Service unavailable, retry later.');
    }
    request.log.error({ err: error }, 'unexpected error');
    return sendText(reply, 500, 'Internal error.');
  });

  app.get(
    '/healthcheck',
    { schema: { tags: ['webservice'], summary: 'Seed 001 health check: answers `ok`', response: { 200: Type.String({ examples: ['ok'] }) } } },
    async (_request, reply) => sendText(reply, 200, 'ok'),
  );

  app.post(
    '/send',
    {
      schema: {
        tags: ['webservice'],
        summary: 'Seed 001: send an event to rooms of a webservice namespace',
        description: SEND_DESCRIPTION,
        response: {
          200: Type.String({ examples: ['OK'] }),
          400: Type.String({ examples: ["Missing query param 'site' or 'apiKey'."] }),
          401: Type.String({ examples: ['ApiKey invalid.'] }),
        },
      },
    },
    async (request, reply) => {
      const site = param(request.query, 'site');
      const apiKey = param(request.query, 'apiKey');
      if (site === undefined || apiKey === undefined) throw refuse(Errors.WS_SEND_PARAMS_MISSING);
      // Wrong keys are counted per address like failed Basic authentications (the seed had no limit).
      await failures.check(request.ip);
      const namespace = `/${site}`;
      const record = isValidName('namespace', namespace) ? await namespaces.settings(namespace) : undefined;
      const settings = record?.protocol === 'webservice' ? webserviceSettings(record.protocolSettings) : undefined;
      if (!record || !settings || !verifySecret(apiKey, settings.apiKeyHash)) {
        await failures.record(request.ip);
        throw refuse(Errors.WS_API_KEY_INVALID);
      }
      if (record.offline) throw new PlainRefusal(400, `${Errors.NAMESPACE_OFFLINE.msg}.`);
      const body = readBody(request.body);
      const resyncParam = param(request.query, 'resync');
      // Only true/1 turns resync on (the seed turned it on for any non-empty value, `false` included).
      const resync = resyncParam === 'true' || resyncParam === '1';

      if (settings.userRoomPrefix === undefined) {
        // A broadcast to each room, as the seed's `nsp.to(room).emit(...)`.
        const requests: PushRequest[] = body.rooms.map((room) => ({
          room,
          pushData: { event: body.event, args: body.args },
          apnsName: undefined,
          leaveMessage: false,
          except: undefined,
          expire: DEFAULT_EXPIRE_HOURS,
          extra: undefined,
        }));
        if (requests.length > 0) await push.pushBatch(namespace, requests);
        return sendText(reply, 200, 'OK');
      }

      const sendDate = Date.now();
      // What the connectors get; the script fills in the id and the devices. On a single Redis the
      // script publishes it itself, so announcements leave in id order even from several logic
      // processes; on a cluster (SPUBLISH cannot share the script's slot) logic publishes after.
      const announcement: Omit<WebserviceDelivery, 'id' | 'devices'> & { [ANNOUNCE_MARK]: 0 } = { [ANNOUNCE_MARK]: 0, event: body.event, args: body.args, resync, sendDate };
      const packet = serverSideEmitPacket(bus.kind, channelPrefix, namespace, 'herald:webservice', [announcement]);
      const mark = packet.message.indexOf(`"${ANNOUNCE_MARK}":0,`);
      const inScript = bus.kind === 'classic' && mark > 0;
      const stored = await store.send(namespace, {
        rooms: body.rooms,
        payload: [body.event, ...body.args],
        userRoomPrefix: settings.userRoomPrefix,
        publicChannel: settings.publicChannel,
        deviceTtl: settings.deviceTtl,
        ...(inScript ? { announce: { channel: packet.channel, head: packet.message.slice(0, mark), tail: ',' + packet.message.slice(mark + ANNOUNCE_MARK.length + 5) } } : {}),
      });
      metrics.pushAccepted(namespace, 1);
      if (!inScript && stored.devices.length > 0) {
        const delivery: WebserviceDelivery = { id: stored.id, event: body.event, args: body.args, resync, devices: stored.devices, sendDate };
        const whole = serverSideEmitPacket(bus.kind, channelPrefix, namespace, 'herald:webservice', [delivery]);
        const sent = bus.kind === 'classic' ? redis.publish(whole.channel, whole.message) : redis.spublish(whole.channel, whole.message);
        // A lost announcement loses no message: it stays queued and comes in the next `_batch`.
        await sent.catch((error: unknown) =>
          logger.warn({ err: (error as Error).message, namespace }, 'webservice announcement not published; the devices get it on their next connect'),
        );
      }
      return sendText(reply, 200, 'OK');
    },
  );
}
