import { PLATFORMS, type Platform, type PushRequest } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { timelineUpdate, type StoredTimelineEntry } from './message-timeline';
import type { Scripts } from './scripts';

/** Seed `push_message_list_max_limit`: the history keeps the newest 1000 ids per namespace. */
export const HISTORY_LENGTH = 1000;

/** A stored message with its delivery report, numbers as numbers. */
export interface MessageReport {
  readonly id: number;
  readonly namespace: string;
  readonly room: string;
  readonly pushData: Record<string, unknown>;
  readonly sendDate: number;
  readonly expire: number;
  readonly leaveMessage: boolean;
  readonly apnsName: string | undefined;
  readonly except: string | undefined;
  readonly extra: string | undefined;
  readonly from: string | undefined;
  readonly onlineClientCount: number;
  readonly ackCount: number;
  readonly ackIOSCount: number;
  readonly ackAndroidCount: number;
  readonly apnsCount: number;
  readonly apnsSuccessCount: number;
  /** `dev` or `production` once APNs was used for this message, else null. */
  readonly apnsEnv: string | null;
  /** APNs failures by Apple's reason (or `no answer` causes). */
  readonly apnsFailures: Record<string, number>;
  /** The offline step's summary, `inbox:<n> apns:<m>`, once it ran. */
  readonly offline: string | null;
  /** A readable summary: a configuration problem, or the APNs outcome. */
  readonly result: string;
}

/** One device's final APNs outcome, what the report counts for it, and its timeline entry. */
export interface DeviceOutcome {
  readonly clientId: string;
  /** `ok`, or the failure as the outcome hash keeps it. */
  readonly outcome: string;
  /** Report counters this outcome raises (`apnsCount`, `apnsSuccessCount`, `apnsFailed:<kind>`). */
  readonly add: Readonly<Record<string, number>>;
  readonly entry: StoredTimelineEntry;
}

/** report-apply's `n` (raise a counter) and `s` (write a text field) updates of one message hash. */
function pushFieldUpdates(message: string, add: Readonly<Record<string, number>>, set: Readonly<Record<string, string>>, keys: string[], args: (string | number)[]): void {
  for (const [field, amount] of Object.entries(add)) {
    keys.push(message, message);
    args.push('n', amount, field);
  }
  for (const [field, text] of Object.entries(set)) {
    keys.push(message, message);
    args.push('s', text, field);
  }
}

/** The last answer of statPeriods and the minute it is for. */
let lastPeriods: { minuteStart: number; periods: { minute: string; hour: string; day: string } } = { minuteStart: NaN, periods: { minute: '', hour: '', day: '' } };

/** The minute, hour and day of a time in UTC, as the push counters name them. */
export function statPeriods(at: number): { minute: string; hour: string; day: string } {
  // Every push asks; the answer changes once a minute.
  const minuteStart = at - (at % 60_000);
  if (minuteStart === lastPeriods.minuteStart) return lastPeriods.periods;
  const iso = new Date(at).toISOString(); // 2026-11-22T02:07:31.000Z
  const day = iso.slice(0, 10).replace(/-/g, '');
  const hour = day + iso.slice(11, 13);
  const periods = Object.freeze({ day, hour, minute: hour + iso.slice(14, 16) });
  lastPeriods = { minuteStart, periods };
  return periods;
}

/** A message hash as its report: numbers as numbers, pushData parsed. */
function parseReport(namespace: string, h: Record<string, string>): MessageReport {
  const num = (field: string) => Number(h[field] ?? 0);
  const apnsFailures: Record<string, number> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('apnsFailed:')) apnsFailures[field.slice('apnsFailed:'.length)] = Number(value);
  }
  return {
    id: num('id'),
    namespace: h['namespace'] ?? namespace,
    room: h['room'] ?? '',
    pushData: JSON.parse(h['pushData'] ?? '{}') as Record<string, unknown>,
    sendDate: num('sendDate'),
    expire: num('expire'),
    leaveMessage: h['leaveMessage'] === 'true',
    apnsName: h['apnsName'],
    except: h['except'],
    extra: h['extra'],
    from: h['from'],
    onlineClientCount: num('onlineClientCount'),
    ackCount: num('ackCount'),
    ackIOSCount: num('ackIOSCount'),
    ackAndroidCount: num('ackAndroidCount'),
    apnsCount: num('apnsCount'),
    apnsSuccessCount: num('apnsSuccessCount'),
    apnsEnv: h['apnsEnv'] ?? null,
    apnsFailures,
    offline: h['offline'] ?? null,
    result: h['result'] || describeApns(h['apnsEnv'], num('apnsSuccessCount'), apnsFailures),
  };
}

/** `apnsEnv:dev sent:98 failed:2 (BadDeviceToken:1, Unregistered:1)`, or '' when nothing was sent. */
function describeApns(env: string | undefined, sent: number, failures: Record<string, number>): string {
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  if (!env && sent === 0 && failed === 0) return '';
  const detail = Object.entries(failures)
    .map(([reason, n]) => `${reason}:${n}`)
    .join(', ');
  return `apnsEnv:${env ?? '?'} sent:${sent} failed:${failed}${detail ? ` (${detail})` : ''}`;
}

export interface StoredMessage {
  readonly id: number;
  readonly sendDate: number;
}

/** One push for {@link MessageStore.accept}. */
export interface PushToAccept {
  readonly request: PushRequest;
  /** clientId of the client that pushed (client push), recorded in the report. */
  readonly from?: string;
  /**
   * The connectors' packet, split around the message id, and the channel the script PUBLISHes it
   * on; undefined: the script publishes nothing (the caller does, or no one).
   */
  readonly publish?: { readonly channel: string; readonly head: string; readonly tail: string };
  /**
   * The audience (`expectAckCount`) when the caller counted it (Redis Cluster: the room's online set
   * lives in another slot); undefined: the script counts it, atomically with the store.
   */
  readonly audience?: number;
}

/** Options of {@link MessageStore.accept} that apply to the whole call. */
export interface AcceptOptions {
  /** Refuse the call when this failed-authentication counter (any slot: single Redis only) reached `limit`. */
  readonly authFailures?: { readonly key: string; readonly limit: number };
  /** The request's `Idempotency-Key`, the digest of its body and how long the record lives. */
  readonly idempotency?: { readonly key: string; readonly digest: string; readonly ttlS: number };
}

/** One push as {@link MessageStore.accept} stored it. */
export interface AcceptedPush {
  readonly id: number;
  readonly expectAckCount: number;
  /** Connectors reached by the script's PUBLISH, -1 when it did not publish, or the refusal's text. */
  readonly published: number | string;
}

/** One push of a replayed call, as the first call recorded it. */
export interface ReplayedPush {
  readonly id: number;
  readonly expectAckCount: number;
  /** The message's offline step already ran (its report has an `offline` summary). */
  readonly offlineDone: boolean;
}

export type AcceptOutcome =
  | { readonly kind: 'accepted'; readonly pushes: readonly AcceptedPush[]; readonly sendDate: number }
  | { readonly kind: 'replayed'; readonly pushes: readonly ReplayedPush[] }
  /** The failed-authentication counter is at its limit: nothing was stored. */
  | { readonly kind: 'limited' }
  /** The idempotency key was used with another body: nothing was stored. */
  | { readonly kind: 'conflict' };

export class MessageStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
  ) {}

  /**
   * Stores pushes of one namespace (message, report counters, history entry), counts their audience
   * and publishes them, all in one script call (libs/store/lua/push-accept.lua), after checking the
   * failed-authentication limit and the idempotency key. `sendDate` is the same for every push.
   */
  async accept(namespace: string, pushes: readonly PushToAccept[], options: AcceptOptions = {}, sendDate = Date.now()): Promise<AcceptOutcome> {
    const periods = statPeriods(sendDate);
    const keys = [this.keys.messageSeq(namespace), this.keys.history(namespace)];
    const keyIndex = (key: string): number => keys.push(key);
    const auth = options.authFailures;
    const idem = options.idempotency;
    const args: (string | number)[] = [
      this.keys.messagePrefix(namespace),
      HISTORY_LENGTH,
      this.keys.statPrefix(namespace),
      periods.minute,
      periods.hour,
      periods.day,
      auth ? keyIndex(auth.key) : 0,
      auth?.limit ?? 0,
      idem ? keyIndex(this.keys.idempotency(namespace, idem.key)) : 0,
      idem?.digest ?? '',
      idem?.ttlS ?? 0,
      pushes.length,
    ];
    const roomKeys = new Map<string, number>();
    for (const { request: push, from, publish, audience } of pushes) {
      let roomKey = 0;
      if (audience === undefined) {
        const key = this.keys.roomOnline(namespace, push.room);
        roomKey = roomKeys.get(key) ?? keyIndex(key);
        roomKeys.set(key, roomKey);
      }
      // Only what the push says: the namespace is in the key, the counters start absent (HINCRBY
      // creates them, parseReport reads an absent one as 0), `leaveMessage` is written when true.
      const fields: (string | number)[] = [
        'room', push.room,
        'pushData', JSON.stringify(push.pushData),
        'sendDate', sendDate,
        'expire', push.expire,
      ];
      if (push.leaveMessage) fields.push('leaveMessage', 'true');
      if (push.apnsName !== undefined) fields.push('apnsName', push.apnsName);
      if (push.except !== undefined) fields.push('except', push.except);
      if (push.extra !== undefined) fields.push('extra', push.extra);
      if (from !== undefined) fields.push('from', from);
      args.push(
        Math.ceil(push.expire * 3600),
        roomKey,
        roomKey > 0 ? (push.except ?? '') : audience!,
        publish?.channel ?? '',
        publish?.head ?? '',
        publish?.tail ?? '',
        fields.length / 2,
        ...fields,
      );
    }
    const reply = await this.scripts.pushAccept(keys, args);
    switch (reply[0]) {
      case 'limited':
        return { kind: 'limited' };
      case 'conflict':
        return { kind: 'conflict' };
      case 'replay': {
        const record = String(reply[1]);
        const entries = record.slice(record.indexOf(' ') + 1).split(',').filter((entry) => entry !== '');
        return {
          kind: 'replayed',
          pushes: entries.map((entry, i) => {
            const [id, count] = entry.split(':');
            return { id: Number(id), expectAckCount: Number(count), offlineDone: reply[2 + i] === 1 };
          }),
        };
      }
      default: {
        const accepted: AcceptedPush[] = [];
        for (let i = 1; i < reply.length; i += 3) {
          accepted.push({ id: Number(reply[i]), expectAckCount: Number(reply[i + 1]), published: reply[i + 2]! });
        }
        return { kind: 'accepted', pushes: accepted, sendDate };
      }
    }
  }

  /**
   * Stores one push (message, report counters, history entry) and returns its id; publishes nothing
   * (tests and tools that need a stored message; the push path uses {@link accept}).
   */
  async store(namespace: string, push: PushRequest, from?: string): Promise<StoredMessage> {
    const outcome = await this.accept(namespace, [{ request: push, ...(from !== undefined ? { from } : {}), audience: 0 }]);
    if (outcome.kind !== 'accepted') throw new Error(`push store: unexpected ${outcome.kind}`);
    return { id: outcome.pushes[0]!.id, sendDate: outcome.sendDate };
  }

  /** Pushes accepted this minute, hour and day (UTC): `GET /api/auth/namespace/current-message-stat`. */
  async currentStat(namespace: string, at = Date.now()): Promise<{ currMinuteMessageCount: number; currHourMessageCount: number; currDateMessageCount: number }> {
    const p = statPeriods(at);
    const prefix = this.keys.statPrefix(namespace);
    const [m, h, d] = await this.redis.mget(`${prefix}m:${p.minute}`, `${prefix}h:${p.hour}`, `${prefix}d:${p.day}`);
    return { currMinuteMessageCount: Number(m ?? 0), currHourMessageCount: Number(h ?? 0), currDateMessageCount: Number(d ?? 0) };
  }

  /**
   * A page of the namespace's history, newest first, as full reports (one pipelined read). Ids whose
   * message expired are skipped; the list itself is capped at 1000 by the push script.
   */
  async history(namespace: string, page: number, size: number): Promise<MessageReport[]> {
    const start = (page - 1) * size;
    const stop = Math.min(start + size, HISTORY_LENGTH) - 1;
    if (start > stop) return [];
    const ids = await this.redis.lrange(this.keys.history(namespace), start, stop);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.message(namespace, id));
    const results = ((await pipeline.exec()) ?? []) as [Error | null, Record<string, string>][];
    return results.flatMap(([error, hash]) => {
      if (error) throw error;
      return hash['id'] ? [parseReport(namespace, hash)] : [];
    });
  }

  /** The report of one message, or null when the id is unknown or expired. */
  async report(namespace: string, id: number): Promise<MessageReport | null> {
    const hash = await this.redis.hgetall(this.keys.message(namespace, id));
    return hash['id'] ? parseReport(namespace, hash) : null;
  }

  /**
   * Updates report fields of a message that still exists (an expired report is never re-created):
   * `add` raises counters, `set` writes text fields. One script call.
   */
  async updateReport(namespace: string, id: number, add: Readonly<Record<string, number>>, set: Readonly<Record<string, string>> = {}): Promise<boolean> {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    pushFieldUpdates(this.keys.message(namespace, id), add, set, keys, args);
    if (keys.length === 0) return true;
    return (await this.scripts.reportApply(keys, args)) > 0;
  }

  /**
   * Records final APNs outcomes of a message that still exists, in one script call: each device's
   * outcome, its counters and its timeline entry (while the timeline has fewer than `timelineCap`
   * entries) land together or not at all, and a device that already has an outcome changes
   * nothing, so a batch run twice (a crashed worker's job taken over) counts every device once.
   * `set` writes text fields first.
   */
  async recordOutcomes(namespace: string, id: number, devices: readonly DeviceOutcome[], set: Readonly<Record<string, string>>, timelineCap: number): Promise<void> {
    const message = this.keys.message(namespace, id);
    const outcomes = this.keys.apnsOutcomes(namespace, id);
    const keys: string[] = [];
    const args: (string | number)[] = [];
    pushFieldUpdates(message, {}, set, keys, args);
    for (const device of devices) {
      keys.push(message, outcomes);
      args.push('r', device.clientId, device.outcome);
      pushFieldUpdates(message, device.add, {}, keys, args);
      if (timelineCap > 0) {
        const entry = timelineUpdate(this.keys, namespace, id, device.entry, timelineCap);
        keys.push(...entry.keys);
        args.push(...entry.args);
      }
    }
    if (keys.length > 0) await this.scripts.reportApply(keys, args);
  }

  /** Client ids that acked, per platform, at most `limit` each. */
  async ackDetail(namespace: string, id: number, limit: number): Promise<Record<Platform, { ids: string[]; truncated: boolean }>> {
    const out = {} as Record<Platform, { ids: string[]; truncated: boolean }>;
    for (const platform of PLATFORMS) {
      const key = this.keys.acks(namespace, id, platform);
      const total = await this.redis.scard(key);
      let ids: string[];
      if (total <= limit) {
        ids = await this.redis.smembers(key);
      } else {
        // SSCAN in pages: never one giant reply for a huge ack set.
        const seen = new Set<string>();
        let cursor = '0';
        do {
          const [next, page] = await this.redis.sscan(key, cursor, 'COUNT', 500);
          for (const member of page) if (seen.size < limit) seen.add(member);
          cursor = next;
        } while (cursor !== '0' && seen.size < limit);
        ids = [...seen];
      }
      out[platform] = { ids: ids.sort(), truncated: total > ids.length };
    }
    return out;
  }
}
