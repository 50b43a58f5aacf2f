import { hostname } from 'node:os';
import { metrics } from '@herald/metrics';
import { clientIdOf, type StoredMessage, type TransferNotice } from '@herald/wire';
import type { NamespaceSettings } from '@herald/store';
import { askConnectCallback } from '../../core/connect-callback';
import type { Admission, AdmitOptions, CoreServices, Encoded, PresenceChange, Protocol } from '../../core/protocol';
import { adapterRoom, clientRoom, type HeraldSocket } from '../../core/socket-data';
import { bindClientEvents } from './client-events';
import { bindPushProtocol } from './handlers';
import { identityFromQuery } from './identity';

/**
 * The handshake of seed 002: the identity from the query (`uuid`, `userid`, `platform`,
 * `activityBroadcast`), then the namespace's connect callback, which may name the user and rooms.
 */
async function admit(socket: HeraldSocket, record: NamespaceSettings, options: AdmitOptions): Promise<Admission> {
  const namespace = socket.nsp.name;
  let identity = identityFromQuery(namespace, socket.handshake.query);
  if (!record.connectCallback) return { identity, rooms: [] };
  const decision = await askConnectCallback({
    url: record.connectCallback,
    namespace,
    query: socket.handshake.query,
    cookie: socket.handshake.headers.cookie,
    authorization: record.callbackAuth,
    timeoutMs: options.callbackTimeoutMs,
    allowPrivate: options.callbackAllowPrivate,
  });
  // The callback authenticates the user: the clientId is built from the user it names, never from
  // the handshake's `userid` (the seed kept the handshake's, so a valid token with another user's
  // userid and uuid took over that user's client: its inbox, its pushes, and kicked it).
  if (decision.userid !== undefined) {
    const { platform, uuid } = identity;
    identity = Object.freeze({ ...identity, userid: decision.userid, clientId: clientIdOf(namespace, decision.userid, platform, uuid) });
  }
  return { identity, rooms: decision.rooms };
}

/**
 * Replay before `ok`: the messages in the client's inbox, oldest first. They leave the inbox when
 * acknowledged — all of them through the `offlineMessage` ack callback (or the ids it lists), or
 * one by one with `ackPush` — and count in the report like live acks. Unacknowledged ones come
 * again on the next connect, until they expire.
 */
async function replayInbox(socket: HeraldSocket, core: CoreServices): Promise<void> {
  const { namespace, clientId } = socket.data.identity;
  const messages = await core.inbox.pending(clientId, namespace);
  metrics.inboxReplayed(messages.length);
  if (messages.length === 0 || !socket.connected) return;
  const offered = new Set(messages.map((m) => m.id));
  core.acks.offered(socket, offered);
  socket.emit('offlineMessage', messages, (ids?: unknown) => {
    const acked = Array.isArray(ids) ? ids.map(Number).filter((id) => offered.has(id)) : [...offered];
    for (const id of new Set(acked)) core.acks.ack(socket, id);
  });
}

/**
 * The push protocol (seed 002, docs/protocol.md) on the neutral core: its handshake, its client
 * events (handlers.ts, client-events.ts), `push` for every delivered message, `offlineMessage` then
 * `ok` on connect, `peopleJoin` / `peopleLeave`, `kickout`, and the `joinRoom` / `leaveRoom`
 * transfer notices.
 */
export const pushProtocol: Protocol = Object.freeze({
  name: 'push' as const,
  admit,

  bind(socket: HeraldSocket, core: CoreServices): void {
    bindPushProtocol(socket, core);
    bindClientEvents(socket, core);
  },

  async connected(socket: HeraldSocket, core: CoreServices): Promise<void> {
    await replayInbox(socket, core);
    if (socket.connected) socket.emit('ok', { system: hostname(), port: core.port(), clientId: socket.data.identity.clientId });
  },

  encode(message: StoredMessage): Encoded {
    return { event: 'push', args: [message] };
  },

  presence(socket: HeraldSocket, change: PresenceChange): void {
    const { identity } = socket.data;
    // Announced only about clients that asked for it (`activityBroadcast`).
    if (!identity.activityBroadcast) return;
    const payload = { sid: identity.clientId, uuid: identity.uuid, userid: identity.userid, room: change.room };
    const operator = socket.nsp.to(adapterRoom(change.room)).except(clientRoom(identity.clientId));
    if (change.kind === 'join') operator.emit('peopleJoin', payload);
    else operator.emit('peopleLeave', { ...payload, clientOffline: change.clientOffline });
  },

  evicted(socket: HeraldSocket): void {
    socket.emit('kickout', { reason: 'duplicate' });
  },

  transferred(socket: HeraldSocket, notice: TransferNotice): void {
    socket.emit(notice.type === 'join' ? 'joinRoom' : 'leaveRoom', notice);
  },
});
