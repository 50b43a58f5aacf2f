import { randomInt } from 'node:crypto';
import {
  MAX_CHAT_MESSAGE_BYTES,
  MAX_CHAT_TARGETS,
  MAX_JSON_DEPTH,
  chatClientId,
  chatSettingsOf,
  jsonDepthExceeds,
  userRoom,
  Errors,
  HeraldError,
  type ChatAck,
  type ChatSent,
  type PushRequest,
  type ResolvedChatSettings,
} from '@herald/wire';
import type { ChatStore } from '@herald/store';
import type { CoreServices } from '../../core/protocol';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 10-character alphanumeric id, as the seed's message ids (`z31o1GIlxn`): 59 bits of randomness. */
export function chatId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return id;
}

/** The fields a client's payload loses before it travels as `metaData` (seed: `sessionToken` removed). */
const PRIVATE_FIELDS = new Set(['sessionToken']);

/**
 * The `metaData` of a message: the client's payload without its session token, with `from` set to
 * the sender (seed `data.from = userId`); refused when larger or deeper than Herald stores.
 */
export function metaDataOf(payload: Record<string, unknown>, from: string): Record<string, unknown> {
  const metaData: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) if (!PRIVATE_FIELDS.has(key)) metaData[key] = value;
  metaData['from'] = from;
  if (jsonDepthExceeds(metaData, MAX_JSON_DEPTH - 2)) throw new HeraldError(Errors.JSON_TOO_DEEP);
  if (Buffer.byteLength(JSON.stringify(metaData), 'utf8') > MAX_CHAT_MESSAGE_BYTES) {
    throw new HeraldError(Errors.CHAT_MESSAGE_TOO_LARGE, `at most ${MAX_CHAT_MESSAGE_BYTES} bytes`);
  }
  return metaData;
}

/** Longest alert body (characters): the whole APNs payload must stay below 4 KiB. */
const ALERT_BODY_MAX = 1000;

/**
 * The APNs payload an offline iOS user gets (seed: LeanCloud `RxAVPush.sendTo(targetId,
 * {alert: {title: '您有一条未读消息', body: textContent}, sound: 'default', id})`). The body is the
 * text of a text message; other types get the title alone.
 */
function apsDataOf(metaData: Record<string, unknown>, id: string, settings: ResolvedChatSettings): Record<string, unknown> {
  const text = metaData['type'] === 'text' ? (metaData['textContent'] ?? metaData['content']) : undefined;
  const alert: Record<string, string> = { title: settings.apns_title };
  if (typeof text === 'string' && text.length > 0) alert['body'] = text.length > ALERT_BODY_MAX ? `${text.slice(0, ALERT_BODY_MAX - 1)}…` : text;
  return { aps: { alert, sound: settings.apns_sound }, id };
}

/**
 * How many recipients one socket may still send to: a token bucket of MAX_CHAT_TARGETS refilled at
 * the namespace's `send_rate` per second. A message costs one token per recipient, so one socket
 * cannot make the cluster store and deliver without bound (the seed had no limit; one event may name
 * 1000 targets).
 */
export class SendBudget {
  private tokens = MAX_CHAT_TARGETS;
  private at: number;

  constructor(private readonly now: () => number = Date.now) {
    this.at = now();
  }

  /** Takes `cost` tokens at `ratePerS`; false (and nothing taken) when there are not enough. */
  take(cost: number, ratePerS: number): boolean {
    const now = this.now();
    this.tokens = Math.min(MAX_CHAT_TARGETS, this.tokens + ((now - this.at) / 1000) * ratePerS);
    this.at = now;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }
}

/** Takes `recipients` (at least 1) from the socket's budget, or refuses with CHAT_RATE_LIMITED. */
export function spend(ctx: SendContext, recipients: number, settings: ResolvedChatSettings): void {
  if (!ctx.budget.take(Math.max(1, recipients), settings.send_rate)) throw new HeraldError(Errors.CHAT_RATE_LIMITED);
}

/** The chat settings of a namespace now, defaults applied. */
export async function settingsOf(ctx: SendContext): Promise<ResolvedChatSettings> {
  return chatSettingsOf((await ctx.core.namespaces.settings(ctx.namespace))?.protocolSettings);
}

/** What one message send needs from the connector. */
export interface SendContext {
  readonly core: CoreServices;
  readonly store: ChatStore;
  readonly namespace: string;
  /** The sending socket's budget. */
  readonly budget: SendBudget;
}

/**
 * Sends one message to users, cluster-wide (seed `batchSend`), within the sender's budget
 * (SendBudget; CHAT_RATE_LIMITED past it): one Herald push per target to its
 * user room, all in one script call (PushService#pushBatch), so each gets a report, metrics and
 * the connectors' delivery wherever the target's sockets are. A target is online when a client of
 * it is online in its user room on any connector when the push is accepted (the push's
 * `expectAckCount`); otherwise the message goes to its inbox now (replayed after its next `logIn`)
 * and the push keeps `leaveMessage`, so the worker's offline step wakes its registered iOS device
 * through APNs.
 */
export async function sendToUsers(
  ctx: SendContext,
  targets: readonly string[],
  metaData: Record<string, unknown>,
  settings: ResolvedChatSettings,
): Promise<ChatAck<{ id: string; sent: ChatSent }>> {
  const { core, store, namespace } = ctx;
  const id = chatId();
  const unique = [...new Set(targets)];
  const sent: ChatSent = { online: [], offline: [] };
  spend(ctx, unique.length, settings);
  if (unique.length === 0) return { statusCode: 201, body: { id, sent } };
  const online = await store.online(namespace, unique);
  const requests: PushRequest[] = unique.map((target, i) => ({
    room: userRoom(target),
    pushData: online[i] ? { metaData, id } : { metaData, id, apsData: apsDataOf(metaData, id, settings) },
    apnsName: settings.apns_name,
    leaveMessage: !online[i],
    except: undefined,
    expire: settings.message_expire,
    extra: undefined,
  }));
  const results = await core.push.pushBatch(namespace, requests);
  const ttlMs = Math.round(settings.message_expire * 3_600_000);
  const inboxed: Promise<number>[] = [];
  unique.forEach((target, i) => {
    if (results[i]!.expectAckCount > 0) {
      sent.online.push(target);
      return;
    }
    sent.offline.push(target);
    inboxed.push(core.inbox.add(chatClientId(namespace, target), results[i]!.id, ttlMs));
  });
  await Promise.all(inboxed);
  return { statusCode: 201, body: { id, sent } };
}
