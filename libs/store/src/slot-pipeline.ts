import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './redis-connection';

/**
 * Runs, for each item, the commands `add` queues for it — commands on keys of one hash slot per
 * item (`keyOf`), different slots across items (one client record each, one room each) — in as few
 * round trips as the target allows: one pipeline on a single server; on a cluster one pipeline per
 * group of slots served by the same node, all at once. ioredis refuses a cluster pipeline whose keys
 * live on different nodes ("All keys in the pipeline should belong to the same slots allocation
 * group"), so a single pipeline over many clients would fail there.
 *
 * Not atomic on either target (a pipeline is not a transaction): for reads and idempotent writes.
 * @returns for each item, in item order, the replies of its commands.
 * @throws the first command error.
 */
export async function pipelineBySlot<T>(
  redis: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  add: (pipeline: ChainableCommander, item: T) => void,
): Promise<unknown[][]> {
  const groups = new Map<string, number[]>();
  if (isCluster(redis)) {
    items.forEach((item, i) => {
      const slot = calculateSlot(keyOf(item));
      // The nodes serving the slot, as ioredis groups them; an unknown slot is a group of its own.
      const group = redis.slots[slot]?.join(',') ?? `slot:${slot}`;
      const members = groups.get(group);
      if (members) members.push(i);
      else groups.set(group, [i]);
    });
  } else if (items.length > 0) {
    groups.set('', items.map((_, i) => i));
  }
  const out: unknown[][] = new Array(items.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const pipeline = redis.pipeline();
      const counts = indexes.map((i) => {
        const before = pipeline.length;
        add(pipeline, items[i]!);
        return pipeline.length - before;
      });
      const replies = (await pipeline.exec()) ?? [];
      let at = 0;
      indexes.forEach((itemIndex, n) => {
        out[itemIndex] = replies.slice(at, at + counts[n]!).map(([error, value]) => {
          if (error) throw error;
          return value;
        });
        at += counts[n]!;
      });
    }),
  );
  return out;
}
