import type { PushMessage } from './schemas';

/**
 * Who a published message is for (the neutral delivery model every protocol shares):
 * - `room`: every client in a room (`to`, or the message's own `room` when `to` is absent);
 * - `user`: every client of one user id (`to`), i.e. its user room;
 * - `direct`: one client id (`to`).
 */
export type DeliveryKind = 'room' | 'user' | 'direct';

/** A message as stored and delivered. Today its fields are the push protocol's stored message. */
export type StoredMessage = PushMessage;

/**
 * What the publish path sends to every connector (inter-server event `herald:push`). Backward
 * compatible with the envelope of the push-only core: `kind` and `to` are optional, and an envelope
 * without `kind` is a room delivery to `message.room` — so a logic of the previous version and a
 * connector of this one (and the reverse, for room deliveries) understand each other.
 */
export interface Envelope {
  readonly kind?: DeliveryKind;
  /** The room, user id or client id the kind names; absent: `message.room`. */
  readonly to?: string;
  readonly message: StoredMessage;
  /** clientId excluded from the delivery, if any. */
  readonly except?: string;
  /**
   * `false` when no client's inbox can ever hold this message (a push without `leaveMessage`: only
   * the offline step of a `leaveMessage` push writes push inboxes), so the connector does not send
   * an inbox removal for each of its acks. Absent: every ack takes the id out of the client's inbox
   * (chat, and an envelope of a logic of the previous version).
   */
  readonly inbox?: false;
}
