/**
 * The send dates of the messages this connector delivered lately, so that an ack (which carries
 * only the message id) can be timed from the push. A fixed ring of the last `size` deliveries: the
 * oldest entry is forgotten when a new one comes, so memory is bounded whatever the push rate, and
 * recording a delivery allocates nothing once a namespace has its map. An ack of a message no longer
 * in the ring (very late, or replayed from the inbox) is counted but not timed.
 */
export class AckClock {
  private readonly byNamespace = new Map<string, Map<number, number>>();
  private readonly ringNamespace: (string | undefined)[];
  // A plain array: ids stay small integers there, while a Float64Array would box each one read
  // back into a heap number before it reaches the Map (measured: twice as slow).
  private readonly ringId: number[];
  private next = 0;

  constructor(private readonly size = 16_384) {
    this.ringNamespace = new Array<string | undefined>(size);
    this.ringId = new Array<number>(size).fill(0);
  }

  /** Message `id` of `namespace`, pushed at `sendDate` (ms since the epoch), was delivered here. */
  delivered(namespace: string, id: number, sendDate: number): void {
    if (this.byNamespace.get(namespace)?.has(id)) return;
    const slot = this.next;
    const old = this.ringNamespace[slot];
    if (old !== undefined) {
      const oldDates = this.byNamespace.get(old);
      oldDates?.delete(this.ringId[slot]!);
      if (oldDates?.size === 0) this.byNamespace.delete(old);
    }
    this.ringNamespace[slot] = namespace;
    this.ringId[slot] = id;
    this.next = (slot + 1) % this.size;
    let dates = this.byNamespace.get(namespace);
    if (!dates) this.byNamespace.set(namespace, (dates = new Map()));
    dates.set(id, sendDate);
  }

  /** The send date of a message delivered here lately, or `undefined`. */
  sendDate(namespace: string, id: number): number | undefined {
    return this.byNamespace.get(namespace)?.get(id);
  }
}
