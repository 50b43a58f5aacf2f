import { Type } from '@sinclair/typebox';
import { Errors, HeraldError, RoomName, USER_ROOM_PREFIX, compileValidator, isValidName, parseFlag } from '@herald/protocol';
import type { AuthRouteContext } from './context';

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
  return body as Record<string, unknown>;
}

function onlyFields(body: Record<string, unknown>, fields: readonly string[]): void {
  for (const key of Object.keys(body)) if (!fields.includes(key)) throw new HeraldError(Errors.UNKNOWN_FIELD, key.slice(0, 64));
}

const Rooms = Type.Array(RoomName, { maxItems: 100 });
const validRoomApns = compileValidator(
  Type.Object({ room: Type.String(), add: Type.Optional(Rooms), remove: Type.Optional(Rooms) }, { additionalProperties: false }),
);

/** Room-wide operations of the caller's namespace (seed 002 routes 5, 7, 8). */
export function roomRoutes({ app, bus, members }: AuthRouteContext): void {
  /**
   * `POST /api/auth/transfer {sourceRooms, targetRoom, type}`: every member of the source rooms joins
   * or leaves the target, offline ones in Redis (logic), online ones on their connectors at once,
   * with a `joinRoom` / `leaveRoom` notice carrying the request.
   */
  app.post('/api/auth/transfer', async (request) => {
    const body = objectBody(request.body);
    onlyFields(body, ['sourceRooms', 'targetRoom', 'type']);
    const { sourceRooms, targetRoom, type } = body;
    const empty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
    if (empty(sourceRooms) || empty(targetRoom) || empty(type)) throw new HeraldError(Errors.TRANSFER_EMPTY);
    if (!isValidName('room', targetRoom) || targetRoom.startsWith(USER_ROOM_PREFIX)) throw new HeraldError(Errors.TARGET_ROOM_INVALID);
    const sources = typeof sourceRooms === 'string' ? [sourceRooms] : sourceRooms;
    if (!Array.isArray(sources) || sources.length > 100 || !sources.every((room) => isValidName('room', room))) {
      throw new HeraldError(Errors.SOURCE_ROOM_INVALID);
    }
    if (type !== 'join' && type !== 'leave') throw new HeraldError(Errors.TRANSFER_TYPE_INVALID);
    const namespace = request.namespace!.key;
    const unique = [...new Set(sources as string[])];
    const max = request.namespace!.maxClientRooms;
    if (type === 'join' && (await members.firstOverRoomLimit(namespace, unique, targetRoom, max)) !== undefined) {
      throw new HeraldError(Errors.CLIENT_ROOMS_LIMIT, `a member of the source rooms would have more than ${max}`);
    }
    await members.transfer(namespace, unique, targetRoom, type);
    bus.transfer({ namespace, sourceRooms: unique, targetRoom, type });
    return {};
  });

  /** `POST /api/auth/room-apns {room, add?, remove?}`: do-not-disturb rooms for every member. */
  app.post('/api/auth/room-apns', async (request) => {
    const body = objectBody(request.body);
    if (!validRoomApns(body)) throw new HeraldError(Errors.BODY_INVALID, validRoomApns.lastError());
    if (!isValidName('room', body.room)) throw new HeraldError(Errors.ROOM_INVALID);
    const count = await members.changeMuted(request.namespace!.key, body.room, body.add ?? [], body.remove ?? []);
    if (count === 0) throw new HeraldError(Errors.ROOM_NOT_FOUND);
    return {};
  });

  /** `POST /api/auth/room-leave-message {room, leaveMessage}`: the flag for every member. */
  app.post('/api/auth/room-leave-message', async (request) => {
    const body = objectBody(request.body);
    onlyFields(body, ['room', 'leaveMessage']);
    if (body['room'] === undefined || body['room'] === '') throw new HeraldError(Errors.ROOM_EMPTY);
    if (!isValidName('room', body['room'])) throw new HeraldError(Errors.ROOM_INVALID);
    const flag = parseFlag(body['leaveMessage']);
    if (flag === undefined) throw new HeraldError(Errors.LEAVE_MESSAGE_INVALID);
    const count = await members.applySettings(request.namespace!.key, body['room'], { leaveMessage: String(flag) });
    if (count === 0) throw new HeraldError(Errors.ROOM_NOT_FOUND);
    return {};
  });
}
