/**
 * A set that remembers the last `capacity` keys added, forgetting the oldest first, in O(1) per
 * operation: the keys in a ring of slots beside a Set for lookup. The obvious form, deleting
 * `set.values().next().value` once the Set is full, is not O(1) in V8: a Set keeps deleted entries
 * as holes until it rehashes, and the iterator walks over every hole at its start, so each delivery
 * paid for thousands of them (6.3 µs a push at 10 000 keys, against 0.24 µs here).
 */
export class RecentSet {
  private readonly keys = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`RecentSet capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<string | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Adds a key unless present; false when it was already there (then nothing changes). */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    const oldest = this.ring[this.next];
    if (oldest !== undefined) this.keys.delete(oldest);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
    this.keys.add(key);
    return true;
  }
}
