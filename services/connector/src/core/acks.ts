import type { ReportBatcher } from './report-batcher';
import { clientRoom, type HeraldSocket } from './socket-data';

export interface AcksOptions {
  /**
   * How long after its delivery an ack of a live message still counts.
   * @default 600000 (10 minutes)
   */
  readonly windowMs?: number;
  /**
   * Most deliveries remembered; beyond this the oldest are forgotten first, so a burst of pushes
   * cannot grow the connector's memory without bound (at that rate the window is shorter).
   * @default 100000
   */
  readonly maxEntries?: number;
}

interface Delivery {
  /** The adapter room the message was written to. */
  readonly room: string;
  /** The adapter room of the excluded client, if any. */
  readonly except: string | undefined;
  readonly at: number;
  /** Whether a client's inbox may hold the message (envelope `inbox`): its acks clear it there. */
  readonly inbox: boolean;
}

/**
 * Counts only acks of messages the acking client was sent (issue 12): an ack counts when the
 * message was delivered by this connector to a room the socket is in (and the socket is not the
 * excluded client) within the window, or when the message was offered to the socket by its inbox
 * replay. Anything else is answered as before but not counted. The check is one map lookup per
 * ack, and delivery adds one map entry per message (not per recipient), so the broadcast path stays
 * O(1) per push.
 *
 * A socket that joined the room after the delivery, or left it before acking, is judged by its
 * rooms at ack time (docs/protocol.md "Acknowledgements").
 */
export class Acks {
  private readonly deliveries = new Map<string, Delivery>();
  private readonly windowMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly reports: ReportBatcher,
    options: AcksOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = options.windowMs ?? 600_000;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /**
   * Message `id` of `namespace` was written to this connector's sockets in `room`, minus `except`;
   * `inbox`: whether clients' inboxes may hold it (false for a push without `leaveMessage`).
   */
  delivered(namespace: string, id: number, room: string, except: string | undefined, inbox: boolean): void {
    const at = this.now();
    const key = `${namespace}\n${id}`;
    this.deliveries.delete(key); // re-inserted last: the map stays in delivery order
    this.deliveries.set(key, { room, except: except === undefined ? undefined : clientRoom(except), at, inbox });
    for (const [oldest, delivery] of this.deliveries) {
      if (this.deliveries.size <= this.maxEntries && at - delivery.at <= this.windowMs) break;
      this.deliveries.delete(oldest);
    }
  }

  /** The inbox replay offered these ids to the socket: its acks of them count. */
  offered(socket: HeraldSocket, ids: Iterable<number>): void {
    for (const id of ids) socket.data.offered.add(id);
  }

  /**
   * Counts the socket's ack of message `id` when it was sent to it; true when counted. The id
   * leaves the client's inbox too, unless the message can be in no inbox (a live push without
   * `leaveMessage`): that saves Redis one removal per ack.
   */
  ack(socket: HeraldSocket, id: number): boolean {
    const inbox = this.targeted(socket, id);
    if (inbox === undefined) return false;
    const { namespace, platform, clientId } = socket.data.identity;
    this.reports.ack(namespace, id, platform, clientId, inbox);
    return true;
  }

  /** Undefined when the message was not sent to the socket; else whether an inbox may hold it. */
  private targeted(socket: HeraldSocket, id: number): boolean | undefined {
    if (socket.data.offered.has(id)) return true;
    const delivery = this.deliveries.get(`${socket.nsp.name}\n${id}`);
    if (!delivery || this.now() - delivery.at > this.windowMs) return undefined;
    const sent = socket.rooms.has(delivery.room) && (delivery.except === undefined || !socket.rooms.has(delivery.except));
    return sent ? delivery.inbox : undefined;
  }
}
