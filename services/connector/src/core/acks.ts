import { Fifo } from './fifo';
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
  /** `<namespace>\n<id>`, the key of the deliveries map. */
  readonly key: string;
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
 * O(1) per push. The oldest deliveries are forgotten through a queue in delivery order, not by
 * iterating the map from its start: V8 keeps a deleted Map entry as a hole until the table is
 * rehashed, and an iterator walks every hole at the front, which cost 37 µs a push once the map
 * was full (100 000 entries).
 *
 * A socket that joined the room after the delivery, or left it before acking, is judged by its
 * rooms at ack time (docs/protocol.md "Acknowledgements").
 */
export class Acks {
  private readonly deliveries = new Map<string, Delivery>();
  /** Every delivery in the order made; one whose key was delivered again since is skipped. */
  private readonly order = new Fifo<Delivery>();
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
    const delivery: Delivery = { key, room, except: except === undefined ? undefined : clientRoom(except), at, inbox };
    this.deliveries.set(key, delivery);
    this.order.push(delivery);
    // The queue holds at least every delivery of the map, so bounding it bounds the map.
    for (let oldest = this.order.peek(); oldest !== undefined; oldest = this.order.peek()) {
      if (this.order.length <= this.maxEntries && at - oldest.at <= this.windowMs) break;
      this.order.shift();
      if (this.deliveries.get(oldest.key) === oldest) this.deliveries.delete(oldest.key);
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
