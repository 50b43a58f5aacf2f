import { Type } from '@sinclair/typebox';
import { Flag, NAME_LIMITS, RoomName, USER_ROOM_PREFIX, checkOrder, onError, parseFlag } from '@herald/wire';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Errors, HeraldError } from '@herald/wire';
import type { AuthRouteContext } from './context';
import { Empty, answers } from './responses';

/** `POST /api/auth/transfer`, checked in the seed's order: unknown fields, empty fields, targetRoom, sourceRooms, type. */
const TransferBody = Type.Object(
  {
    sourceRooms: Type.Union([RoomName, Type.Array(RoomName, { minItems: 1, maxItems: 100 })], {
      description: 'One room or up to 100.',
      ...onError({ error: 'SOURCE_ROOM_INVALID', empty: 'TRANSFER_EMPTY' }),
    }),
    targetRoom: Type.String({
      minLength: 1,
      maxLength: NAME_LIMITS.room,
      // A room name that is not a user room: a user's room holds that user's clients only.
      pattern: `^(?!${USER_ROOM_PREFIX})${RoomName.pattern!.slice(1)}`,
      description: 'The room to join or leave; not a `user_` room.',
      ...onError({ error: 'TARGET_ROOM_INVALID', empty: 'TRANSFER_EMPTY' }),
    }),
    type: Type.Union([Type.Literal('join'), Type.Literal('leave')], { ...onError({ error: 'TRANSFER_TYPE_INVALID', empty: 'TRANSFER_EMPTY' }) }),
  },
  { additionalProperties: false, ...checkOrder({ order: ['*', 'empty', 'targetRoom', 'sourceRooms', 'type'], unknown: 'UNKNOWN_FIELD' }) },
);

const RoomApnsBody = Type.Object(
  {
    room: Type.String({ ...RoomName, ...onError({ error: 'ROOM_INVALID' }) }),
    add: Type.Optional(Type.Array(RoomName, { maxItems: 100, description: 'Rooms to mute (no APNs notification) for every member.' })),
    remove: Type.Optional(Type.Array(RoomName, { maxItems: 100, description: 'Rooms to unmute; wins over add.' })),
  },
  { additionalProperties: false, ...checkOrder({ order: ['*', 'add', 'remove', 'room'] }) },
);

const RoomLeaveMessageBody = Type.Object(
  {
    room: Type.String({ ...RoomName, ...onError({ error: 'ROOM_INVALID', empty: 'ROOM_EMPTY' }) }),
    leaveMessage: Type.Union(Flag.anyOf, { ...onError({ error: 'LEAVE_MESSAGE_INVALID' }) }),
  },
  { additionalProperties: false, ...checkOrder({ unknown: 'UNKNOWN_FIELD' }) },
);

const auth = { tags: ['rooms'], security: [{ namespace: [] }] };

/** Room-wide operations of the caller's namespace (seed 002 routes 5, 7, 8). */
export function roomRoutes({ app: plain, bus, members }: AuthRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  /**
   * `POST /api/auth/transfer {sourceRooms, targetRoom, type}`: every member of the source rooms joins
   * or leaves the target, offline ones in Redis (logic), online ones on their connectors at once,
   * with a `joinRoom` / `leaveRoom` notice carrying the request.
   */
  app.post(
    '/api/auth/transfer',
    { schema: { ...auth, summary: 'Every member of the source rooms joins or leaves the target room', body: TransferBody, response: answers(Empty, { body: true }) } },
    async (request) => {
      const { sourceRooms, targetRoom, type } = request.body;
      const namespace = request.namespace!.key;
      const unique = [...new Set(typeof sourceRooms === 'string' ? [sourceRooms] : sourceRooms)];
      const max = request.namespace!.maxClientRooms;
      if (type === 'join' && (await members.firstOverRoomLimit(namespace, unique, targetRoom, max)) !== undefined) {
        throw new HeraldError(Errors.CLIENT_ROOMS_LIMIT, `a member of the source rooms would have more than ${max}`);
      }
      await members.transfer(namespace, unique, targetRoom, type);
      bus.transfer({ namespace, sourceRooms: unique, targetRoom, type });
      return {};
    },
  );

  /** `POST /api/auth/room-apns {room, add?, remove?}`: do-not-disturb rooms for every member. */
  app.post(
    '/api/auth/room-apns',
    { schema: { ...auth, summary: 'Mute or unmute rooms for every member of a room', body: RoomApnsBody, response: answers(Empty, { body: true }) } },
    async (request) => {
      const { room, add = [], remove = [] } = request.body;
      const count = await members.changeMuted(request.namespace!.key, room, add, remove);
      if (count === 0) throw new HeraldError(Errors.ROOM_NOT_FOUND);
      return {};
    },
  );

  /** `POST /api/auth/room-leave-message {room, leaveMessage}`: the flag for every member. */
  app.post(
    '/api/auth/room-leave-message',
    { schema: { ...auth, summary: 'Set leaveMessage for every member of a room', body: RoomLeaveMessageBody, response: answers(Empty, { body: true }) } },
    async (request) => {
      const { room, leaveMessage } = request.body;
      const count = await members.applySettings(request.namespace!.key, room, { leaveMessage: String(parseFlag(leaveMessage)) });
      if (count === 0) throw new HeraldError(Errors.ROOM_NOT_FOUND);
      return {};
    },
  );
}
