import type { Logger } from '@herald/log';
import {
  Errors,
  HeraldError,
  InfoPayload,
  OK_ACK,
  RoomName,
  compileRequestCheck,
  compileValidator,
  parseFlag,
  validatePushRequest,
  type EventAck,
} from '@herald/wire';
import type { ClientSettings } from '@herald/store';
import { Type } from '@sinclair/typebox';
import type { CoreServices } from '../../core/protocol';
import type { HeraldSocket } from '../../core/socket-data';

export type ClientEventsContext = Pick<CoreServices, 'clients' | 'push' | 'namespaces' | 'clientPushIntervalMs' | 'logger'>;

const Rooms = Type.Union([RoomName, Type.Array(RoomName, { maxItems: 100 })]);
const validApns = compileValidator(Type.Object({ add: Type.Optional(Rooms), remove: Type.Optional(Rooms) }, { additionalProperties: false }));

function failure(error: unknown, logger: Logger): EventAck {
  if (error instanceof HeraldError) return { status: error.status, msg: error.message };
  logger.warn({ err: error }, 'client event failed');
  return { status: Errors.STORE_UNAVAILABLE.status, msg: Errors.STORE_UNAVAILABLE.msg };
}

function answer<T>(ack: unknown, work: () => Promise<T>, logger: Logger): void {
  work().then(
    (result) => typeof ack === 'function' && (ack as (a: T) => void)(result),
    (error: unknown) => typeof ack === 'function' && (ack as (a: EventAck) => void)(failure(error, logger)),
  );
}

function asList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

const checkInfo = compileRequestCheck(InfoPayload, 'body');

/** Checks an `info` write with the schema `POST /api/auth/client` uses: only the settings, each bounded. */
function settingsOf(data: Record<string, unknown>): ClientSettings {
  const checked = checkInfo(data);
  if ('error' in checked) {
    const { code, detail } = checked.error;
    if (code === Errors.UNKNOWN_FIELD.code) throw new HeraldError(Errors.INFO_INVALID, `unknown field ${detail}`);
    if (code === Errors.LEAVE_MESSAGE_INVALID.code) throw new HeraldError(Errors.INFO_INVALID, 'leaveMessage must be boolean');
    throw new HeraldError(Errors.INFO_INVALID, detail);
  }
  const { clientId: _own, leaveMessage, ...texts } = checked.value;
  return { ...texts, ...(leaveMessage !== undefined && { leaveMessage: String(parseFlag(leaveMessage)) }) };
}

/**
 * `info`, `apns` and the client-originated `push` (seed 002 "Client-facing socket events"), with the
 * seed's holes closed: a client reads and writes only its own record, mutes rooms by exact name,
 * and cannot choose the namespace, `except` or `from` of its pushes.
 */
export function bindClientEvents(socket: HeraldSocket, ctx: ClientEventsContext): void {
  const { clientId, platform, namespace } = socket.data.identity;

  socket.on('info', (data: unknown, ack?: unknown) =>
    answer(
      ack,
      async () => {
        const body = data ?? {};
        if (typeof body !== 'object' || Array.isArray(body)) throw new HeraldError(Errors.INFO_INVALID, 'data must be an object');
        const fields = body as Record<string, unknown>;
        // The seed let `clientId` name any client ("fake identity"); Herald refuses it.
        if (fields['clientId'] !== undefined && fields['clientId'] !== clientId) throw new HeraldError(Errors.FORBIDDEN);
        const settings = settingsOf(fields);
        if (Object.keys(settings).length > 0) {
          await ctx.clients.updateSettings(clientId, settings);
          return OK_ACK;
        }
        return { ...(await ctx.clients.publicRecord(clientId)), ...OK_ACK };
      },
      ctx.logger,
    ),
  );

  socket.on('apns', (data: unknown, ack?: unknown) =>
    answer(
      ack,
      async (): Promise<EventAck | string[]> => {
        if (platform !== 'ios') throw new HeraldError(Errors.FORBIDDEN);
        const body = data ?? {};
        if (!validApns(body)) throw new HeraldError(Errors.APNS_ROOMS_INVALID, validApns.lastError());
        const add = asList(body.add);
        const remove = asList(body.remove);
        const muted = await ctx.clients.changeMuted(clientId, add, remove);
        // With neither list the seed answered the array itself.
        return add.length === 0 && remove.length === 0 ? muted : OK_ACK;
      },
      ctx.logger,
    ),
  );

  socket.on('push', (data: unknown, ack?: unknown) =>
    answer(
      ack,
      async () => {
        const now = Date.now();
        if (now - socket.data.lastPushAt < ctx.clientPushIntervalMs) {
          throw new HeraldError({ ...Errors.CLIENT_PUSH_LIMITED, msg: `limited access in ${ctx.clientPushIntervalMs / 1000}s` });
        }
        if (data !== null && typeof data === 'object' && 'except' in data) {
          throw new HeraldError(Errors.UNKNOWN_FIELD, 'except');
        }
        // The socket may outlive the switch by the namespace watch's drop delay (or a missed notice):
        // the stored state decides, as for `POST /api/auth/push`. A namespace removed meanwhile is
        // refused the same way.
        const settings = await ctx.namespaces.settings(namespace);
        const request = validatePushRequest(data, settings === null || settings.offline);
        socket.data.lastPushAt = now;
        const { id } = await ctx.push.push(namespace, { ...request, except: clientId }, clientId);
        return { ...OK_ACK, id };
      },
      ctx.logger,
    ),
  );
}
