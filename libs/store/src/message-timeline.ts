import type { Platform } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import type { Scripts } from './scripts';

/**
 * Default cap of a message's timeline list (`HERALD_TIMELINE_MAX_ENTRIES`): a push to 100 000
 * clients must not write 100 000 entries; the report's counters stay exact beyond it.
 */
export const TIMELINE_MAX_ENTRIES = 200;

/** One step of a message's delivery, as its timeline keeps it (`at`: ms since the epoch). */
export type TimelineEntry =
  /** The push was stored (from the report's `sendDate`: not written to the list). */
  | { readonly at: number; readonly step: 'accepted'; readonly room: string; readonly from?: string }
  /** A connector wrote the message to `sockets` sockets. */
  | { readonly at: number; readonly step: 'delivered'; readonly connector: string; readonly sockets: number }
  /** A client acknowledged it (its first ack only). */
  | { readonly at: number; readonly step: 'acked'; readonly clientId: string; readonly platform: Platform }
  /** The offline step ran: inbox entries written, iOS devices queued for APNs. */
  | { readonly at: number; readonly step: 'offline'; readonly inbox: number; readonly apns: number }
  /** APNs' final answer for one device; `token` shows only the token's last 4 characters. */
  | { readonly at: number; readonly step: 'apns'; readonly clientId: string; readonly outcome: string; readonly token: string };

/** A stored entry, before `at`-ordering: everything but the synthesized `accepted`. */
export type StoredTimelineEntry = Exclude<TimelineEntry, { step: 'accepted' }>;

/** A device token as a timeline shows it: a secret, so only its end (`…a1b2`). */
export function maskToken(token: string): string {
  return `…${token.slice(-4)}`;
}

/**
 * The `report-apply` update that appends `entry` to message `id`'s timeline (kind `t`): two keys
 * and three arguments, to put after the update it describes in the same script call.
 */
export function timelineUpdate(keys: Keys, namespace: string, id: number, entry: StoredTimelineEntry, cap: number): { keys: [string, string]; args: [string, string, number] } {
  return { keys: [keys.message(namespace, id), keys.timeline(namespace, id)], args: ['t', JSON.stringify(entry), cap] };
}

/** A message's timeline: its steps in time order, and how many the cap left out. */
export interface MessageTimelineView {
  readonly entries: TimelineEntry[];
  /** Entries not kept because the list was full (`HERALD_TIMELINE_MAX_ENTRIES`). */
  readonly dropped: number;
}

/**
 * The per-message delivery timeline (docs/data-model.md, `{nsp}:t:<id>`): written by the
 * connectors' report batches and the worker's offline and APNs steps through `report-apply`, read
 * by the admin console.
 */
export class MessageTimeline {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
    /** The most entries a message's list keeps (@default TIMELINE_MAX_ENTRIES; 0 writes nothing). */
    readonly cap: number = TIMELINE_MAX_ENTRIES,
  ) {}

  /** Appends entries to a message that still exists (one script call; nothing when the cap is 0). */
  async append(namespace: string, id: number, entries: readonly StoredTimelineEntry[]): Promise<void> {
    if (this.cap <= 0 || entries.length === 0) return;
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const entry of entries) {
      const update = timelineUpdate(this.keys, namespace, id, entry, this.cap);
      keys.push(...update.keys);
      args.push(...update.args);
    }
    await this.scripts.reportApply(keys, args);
  }

  /** The timeline of a message, or null when the message is unknown or expired. */
  async read(namespace: string, id: number): Promise<MessageTimelineView | null> {
    const message = this.keys.message(namespace, id);
    const [[, fields], [, raw]] = (await this.redis
      .multi()
      .hmget(message, 'id', 'sendDate', 'room', 'from', 'timelineDropped')
      .lrange(this.keys.timeline(namespace, id), 0, -1)
      .exec()) as [[unknown, (string | null)[]], [unknown, string[]]];
    const [storedId, sendDate, room, from, dropped] = fields;
    if (!storedId) return null;
    const accepted: TimelineEntry = { at: Number(sendDate), step: 'accepted', room: room ?? '', ...(from ? { from } : {}) };
    const stored = raw.map((text) => JSON.parse(text) as StoredTimelineEntry);
    // Writers append at their own pace (batches, jobs): order by time, stable for equal times.
    const entries = [accepted, ...stored].map((entry, i) => ({ entry, i })).sort((a, b) => a.entry.at - b.entry.at || a.i - b.i).map(({ entry }) => entry);
    return { entries, dropped: Number(dropped ?? 0) };
  }
}
