import {
  AckPushPayload,
  Errors,
  HeraldError,
  OK_ACK,
  RoomsPayload,
  USER_ROOM_PREFIX,
  compileValidator,
  userRoom,
  type EventAck,
} from '@herald/wire';
import type { CoreServices } from '../../core/protocol';
import type { HeraldSocket } from '../../core/socket-data';

const validRooms = compileValidator(RoomsPayload);
const validAck = compileValidator(AckPushPayload);

export type PushProtocolContext = Pick<CoreServices, 'rooms' | 'acks' | 'logger' | 'serial'>;

const ROOM_ERROR: EventAck = { status: Errors.JOIN_ROOM_ERROR.status, msg: Errors.JOIN_ROOM_ERROR.msg };
const PAYLOAD_ERROR: EventAck = { status: Errors.EVENT_PAYLOAD_INVALID.status, msg: Errors.EVENT_PAYLOAD_INVALID.msg };

function reply(ack: unknown, answer: EventAck): void {
  if (typeof ack === 'function') (ack as (a: EventAck) => void)(answer);
}

/**
 * Rooms a client may name. User rooms belong to Herald: a client is in its own and cannot join
 * another user's (the seed allowed it, which let any client read any user's messages) nor leave its
 * own (it would stop receiving pushes to its user).
 */
function allowed(socket: HeraldSocket, room: string, joining: boolean): boolean {
  if (!room.startsWith(USER_ROOM_PREFIX)) return true;
  return joining && room === userRoom(socket.data.identity.userid);
}

/**
 * The client events of the push protocol (seed 002, "Client-facing socket events"). Every payload
 * is checked against its schema; a bad one gets an error ack, never a crash and never a change.
 */
export function bindPushProtocol(socket: HeraldSocket, ctx: PushProtocolContext): void {
  const changeRooms = (joining: boolean) => (payload: unknown, ack?: unknown) => {
    if (!validRooms(payload)) return reply(ack, ROOM_ERROR);
    const list = [...new Set(typeof payload === 'string' ? [payload] : payload)];
    if (!list.every((room) => allowed(socket, room, joining))) return reply(ack, ROOM_ERROR);
    ctx
      .serial(socket, async () => {
        // The whole list or nothing: a join past the namespace's room limit changes nothing.
        if (joining) await ctx.rooms.admit(socket, list);
        for (const room of list) {
          if (joining) await ctx.rooms.join(socket, room);
          else await ctx.rooms.leave(socket, room);
        }
      })
      .then(
        () => reply(ack, OK_ACK),
        (error: unknown) => {
          if (error instanceof HeraldError) return reply(ack, { status: error.status, msg: error.message });
          ctx.logger.warn({ err: error, clientId: socket.data.identity.clientId }, 'room change failed');
          reply(ack, { status: Errors.STORE_UNAVAILABLE.status, msg: Errors.STORE_UNAVAILABLE.msg });
        },
      );
  };
  socket.on('joinRoom', changeRooms(true));
  socket.on('leaveRoom', changeRooms(false));

  socket.on('ackPush', (payload: unknown, ack?: unknown) => {
    if (!validAck(payload)) return reply(ack, PAYLOAD_ERROR);
    // Counted only when the message was sent to this client (acks.ts); the answer is the same.
    ctx.acks.ack(socket, Number(payload.id));
    reply(ack, OK_ACK);
  });
}
