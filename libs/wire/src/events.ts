import type { Envelope } from './envelope';
import type { AckPushPayload, EventAck, KickoutPayload, OkPayload, PushMessage, RoomsPayload } from './schemas';
import type { RoomsyncNotice } from './protocols/roomsync';
import type { WebserviceDelivery } from './protocols/webservice';

/**
 * The push protocol's event maps, shared by the connector (socket.io `Server` generics), logic
 * (the emitter) and the tests (the stock client). Types describe; the schemas in schemas.ts check.
 */
export interface ServerToClientEvents {
  ok: (payload: OkPayload) => void;
  push: (message: PushMessage) => void;
  offlineMessage: (messages: PushMessage[], ack?: (ids?: number[]) => void) => void;
  kickout: (payload: KickoutPayload) => void;
  peopleJoin: (payload: PresencePayload) => void;
  peopleLeave: (payload: PresencePayload & { clientOffline: boolean }) => void;
  /** Transfer notices (REST `transfer`): the request that moved this client. */
  joinRoom: (notice: TransferNotice) => void;
  leaveRoom: (notice: TransferNotice) => void;
}

/** `peopleJoin` / `peopleLeave`: who joined or left a room (`sid` is the clientId, as in the seed). */
export interface PresencePayload {
  sid: string;
  uuid: string;
  userid: string;
  room: string;
}

export interface TransferNotice {
  namespace: string;
  sourceRooms: string[];
  targetRoom: string;
  type: 'join' | 'leave';
}

export type Ack = (answer: EventAck) => void;

export interface ClientToServerEvents {
  joinRoom: (rooms: RoomsPayload, ack?: Ack) => void;
  leaveRoom: (rooms: RoomsPayload, ack?: Ack) => void;
  ackPush: (payload: AckPushPayload, ack?: Ack) => void;
  info: (data: unknown, ack?: (answer: EventAck & Record<string, unknown>) => void) => void;
  apns: (data: unknown, ack?: (answer: EventAck | string[]) => void) => void;
  push: (data: unknown, ack?: (answer: EventAck & { id?: number }) => void) => void;
}

/**
 * What logic publishes to every connector through the Redis adapter's request channel
 * (`Emitter#serverSideEmit`): the neutral envelope (envelope.ts). Each connector fans the message
 * out to its own targeted sockets and counts them for the report's `onlineClientCount`.
 */
export type PushEnvelope = Envelope;

export interface InterServerEvents {
  'herald:push': (envelope: PushEnvelope) => void;
  /**
   * Duplicate clientId, newest wins: every connector disconnects its socket of that client with
   * `kickout`, finishes its clean-up, then answers, so the new connection is recorded after it.
   */
  'herald:evict': (clientId: string, ack: (evicted: number) => void) => void;
  /** REST transfer: connectors move their online sockets of the source rooms. */
  'herald:transfer': (notice: TransferNotice) => void;
  /** Webservice protocol (seed 001): a message stored in device queues, for those devices' sockets. */
  'herald:webservice': (delivery: WebserviceDelivery) => void;
  /** Roomsync protocol (seed 000): a room's members are told of a user whose connector died. */
  'herald:roomsync': (notice: RoomsyncNotice) => void;
}

/** The ack that every successful event with a callback receives. */
export const OK_ACK: EventAck = Object.freeze({ status: 200, msg: 'ok' });
