import { randomUUID } from 'node:crypto';

/**
 * The socket.io Redis adapter's wire format for a `serverSideEmit` from a process without a
 * socket.io server (logic): which channel, which bytes. Only what the adapters decode is encoded
 * here (JSON; the adapters take a message starting with `{` as JSON):
 * - the classic adapter (`createAdapter`, single Redis) listens for requests on
 *   `<key>-request#<nsp>#` and takes `{uid, type: SERVER_SIDE_EMIT (6), data: [event, ...args]}`,
 *   as @socket.io/redis-emitter publishes it;
 * - the sharded adapter (`createShardedAdapter`, Redis Cluster) listens on `<channelPrefix>#<nsp>#`
 *   (SSUBSCRIBE) and takes socket.io-adapter's ClusterAdapter message
 *   `{uid, nsp, type: SERVER_SIDE_EMIT (9), data: {packet: [event, ...args]}}`.
 * `uid` is `emitter`, the uid both adapters reserve for emitters: never taken for one of their own.
 */
export type AdapterKind = 'classic' | 'sharded';

export interface AdapterPacket {
  readonly channel: string;
  readonly message: string;
}

const EMITTER_UID = 'emitter';
const CLASSIC_SERVER_SIDE_EMIT = 6;
const SHARDED_SERVER_SIDE_EMIT = 9;

/** The channel and message of `serverSideEmit(event, ...args)` on namespace `nsp`. */
export function serverSideEmitPacket(kind: AdapterKind, channelPrefix: string, nsp: string, event: string, args: readonly unknown[]): AdapterPacket {
  if (kind === 'classic') {
    return {
      channel: `${channelPrefix}-request#${nsp}#`,
      message: JSON.stringify({ uid: EMITTER_UID, type: CLASSIC_SERVER_SIDE_EMIT, data: [event, ...args] }),
    };
  }
  return {
    channel: `${channelPrefix}#${nsp}#`,
    message: JSON.stringify({ uid: EMITTER_UID, nsp, type: SHARDED_SERVER_SIDE_EMIT, data: { packet: [event, ...args] } }),
  };
}

/** A packet whose message id is not known yet: the store script writes `head + id + tail`. */
export interface PacketTemplate {
  readonly channel: string;
  readonly head: string;
  readonly tail: string;
}

/**
 * Stands for the message id while the packet is encoded. A string no pushData can contain by chance
 * or on purpose (random per process), so it occurs exactly once in the encoded packet.
 */
const ID_MARK = `\u0000herald-message-id:${randomUUID()}`;
const ENCODED_ID_MARK = JSON.stringify(ID_MARK);

/**
 * Encodes `payload(id)` as the packet of `event` with the id left open: `build` receives a
 * placeholder for the id and returns the payload (whatever its shape: the envelope may change
 * without the store script knowing). The placeholder must end up exactly once in the payload,
 * where the id goes; it is encoded as a JSON string and replaced by the id as a JSON number.
 */
export function packetTemplate<P>(kind: AdapterKind, channelPrefix: string, nsp: string, event: string, build: (id: number) => P): PacketTemplate {
  const { channel, message } = serverSideEmitPacket(kind, channelPrefix, nsp, event, [build(ID_MARK as unknown as number)]);
  const parts = message.split(ENCODED_ID_MARK);
  if (parts.length !== 2) throw new Error(`packet template of ${event}: the message id must appear exactly once (found ${parts.length - 1})`);
  return { channel, head: parts[0]!, tail: parts[1]! };
}

/** The packet of a template once the id is known (the publish logic does itself on Redis Cluster). */
export function fillTemplate(template: PacketTemplate, id: number): AdapterPacket {
  return { channel: template.channel, message: `${template.head}${id}${template.tail}` };
}
