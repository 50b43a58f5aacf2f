import type { AckPushPayload, EventAck, KickoutPayload, OkPayload, PushMessage, RoomsPayload } from './schemas';

/**
 * The push protocol's event maps, shared by the connector (socket.io `Server` generics), logic
 * (the emitter) and the tests (the stock client). Types describe; the schemas in schemas.ts check.
 */
export interface ServerToClientEvents {
  ok: (payload: OkPayload) => void;
  push: (message: PushMessage) => void;
  offlineMessage: (messages: PushMessage[], ack?: (ids?: number[]) => void) => void;
  kickout: (payload: KickoutPayload) => void;
}

export type Ack = (answer: EventAck) => void;

export interface ClientToServerEvents {
  joinRoom: (rooms: RoomsPayload, ack?: Ack) => void;
  leaveRoom: (rooms: RoomsPayload, ack?: Ack) => void;
  ackPush: (payload: AckPushPayload) => void;
}

/**
 * What logic publishes to every connector through the Redis adapter's request channel
 * (`Emitter#serverSideEmit`). Each connector fans the message out to its own sockets in the room and
 * counts them for the report's `onlineClientCount`.
 */
export interface PushEnvelope {
  readonly message: PushMessage;
  /** clientId excluded from the delivery, if any. */
  readonly except?: string;
}

export interface InterServerEvents {
  'herald:push': (envelope: PushEnvelope) => void;
}

/** The ack that every successful event with a callback receives. */
export const OK_ACK: EventAck = Object.freeze({ status: 200, msg: 'ok' });
