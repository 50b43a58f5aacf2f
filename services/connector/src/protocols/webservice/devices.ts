import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { webserviceDeviceKey, webserviceUserId, type WebserviceDelivery, type WebserviceSettings } from '@herald/wire';
import { WebserviceStore, type RedisClient } from '@herald/store';
import type { CoreServices } from '../../core/protocol';
import type { HeraldNamespace, HeraldSocket } from '../../core/socket-data';

/** What the handshake learnt about a socket, for its devices' queues (module-private state). */
export interface WebserviceSocketState {
  readonly settings: WebserviceSettings;
  /** Every room `auth_url` named. */
  readonly rooms: readonly string[];
  /** The user rooms (and public channel) among them: one device queue each. */
  readonly userRooms: readonly string[];
  readonly deviceId: string;
  /** The handshake token, sent back to `update_user_url` as the seed did. */
  readonly token: string | undefined;
  /** Device keys whose `_batch` is being read: live messages for them wait (ordering). */
  readonly waiting: Map<string, WebserviceDelivery[]>;
}

const states = new WeakMap<HeraldSocket, WebserviceSocketState>();

export function setState(socket: HeraldSocket, state: WebserviceSocketState): void {
  states.set(socket, state);
}

export function stateOf(socket: HeraldSocket): WebserviceSocketState | undefined {
  return states.get(socket);
}

/** The adapter room of a device's sockets on this connector (`w:` is no room or client prefix). */
export function deviceRoom(device: string): string {
  return `w:${device}`;
}

const stores = new WeakMap<RedisClient, WebserviceStore>();

/** One store per Redis connection (the connector's). */
export function storeOf(core: Pick<CoreServices, 'redis' | 'keys'>): WebserviceStore {
  let store = stores.get(core.redis);
  if (!store) {
    store = new WebserviceStore(core.redis, core.keys);
    stores.set(core.redis, store);
  }
  return store;
}

type LooseEmit = (event: string, ...args: unknown[]) => boolean;

/**
 * Emits one stored message to a device's socket with the seed's ack callback (the client calls
 * the last argument): the ack removes exactly that entry, or, with resync, checks that it is the
 * oldest of its event and otherwise emits `_resync` (store: webservice-ack-1.lua). An ack counts
 * once however often the client calls it.
 */
function emitEntry(socket: HeraldSocket, device: string, delivery: WebserviceDelivery, store: WebserviceStore, logger: Logger): void {
  let acked = false;
  const namespace = socket.nsp.name;
  (socket.emit as unknown as LooseEmit)(delivery.event, ...delivery.args, () => {
    if (acked) return;
    acked = true;
    store.ack(namespace, device, delivery.id, delivery.resync, delivery.event).then(
      (outcome) => {
        if (outcome !== 'gone') metrics.acked(namespace, delivery.id);
        if (outcome === 'resync' && socket.connected) (socket.emit as unknown as LooseEmit)('_resync');
      },
      (error: unknown) => logger.warn({ err: error, namespace, id: delivery.id }, 'webservice ack not recorded; the message is replayed on the next connect'),
    );
  });
}

function isDelivery(value: unknown): value is WebserviceDelivery {
  const d = value as WebserviceDelivery;
  return (
    d !== null &&
    typeof d === 'object' &&
    Number.isSafeInteger(d.id) &&
    typeof d.event === 'string' &&
    Array.isArray(d.args) &&
    typeof d.resync === 'boolean' &&
    Array.isArray(d.devices) &&
    d.devices.every((device) => typeof device === 'string') &&
    Number.isFinite(d.sendDate)
  );
}

const listening = new WeakSet<HeraldNamespace>();

/**
 * Listens, once per namespace object, to the messages logic stored in device queues
 * (`herald:webservice`, through the adapter: every connector gets each): each is emitted to this
 * connector's sockets of the listed devices. A socket whose `_batch` is being read gets it after
 * the batch (when the batch did not already carry it).
 */
export function listenForDeliveries(nsp: HeraldNamespace, core: CoreServices): void {
  if (listening.has(nsp)) return;
  listening.add(nsp);
  const store = storeOf(core);
  const logger = core.logger;
  (nsp.on as unknown as (event: string, listener: (delivery: unknown) => void) => void)('herald:webservice', (delivery) => {
    if (!isDelivery(delivery)) {
      logger.warn({ namespace: nsp.name }, 'malformed webservice delivery ignored');
      return;
    }
    let count = 0;
    for (const device of delivery.devices) {
      for (const sid of nsp.adapter.rooms.get(deviceRoom(device)) ?? []) {
        const socket = nsp.sockets.get(sid);
        if (!socket) continue;
        const waiting = states.get(socket)?.waiting.get(device);
        if (waiting) waiting.push(delivery);
        else emitEntry(socket, device, delivery, store, logger);
        count++;
      }
    }
    if (count > 0) metrics.delivered(nsp.name, delivery.id, delivery.sendDate, count);
  });
}

/**
 * A device connects (seed `connection`): for each of its user rooms, the device is recorded as
 * connected by this socket and its queue is sent as one `_batch [[event, ...args], …]` in stored
 * order, whose ack removes exactly the entries it carried. Messages stored meanwhile wait for the
 * batch and follow it (those it already carried are not sent twice).
 */
export async function replayDevices(socket: HeraldSocket, state: WebserviceSocketState, core: CoreServices): Promise<void> {
  const store = storeOf(core);
  const namespace = socket.nsp.name;
  for (const userRoom of state.userRooms) {
    const device = webserviceDeviceKey(userRoom, state.deviceId);
    const waiting: WebserviceDelivery[] = [];
    state.waiting.set(device, waiting);
    await socket.join(deviceRoom(device));
    let carried = new Set<number>();
    try {
      // A device held by an anonymous socket has no client record for the reaper to find: it is
      // listed first. Both commands leave in this tick on one connection, so Redis runs them in
      // this order without a round trip between them.
      const [, entries] = await Promise.all([
        socket.data.anonymous ? store.holdAnonymous(namespace, core.connector.id, userRoom, state.deviceId, socket.id) : undefined,
        store.connect(namespace, userRoom, state.deviceId, socket.id, state.rooms),
      ]);
      carried = new Set(entries.map((entry) => entry.id));
      metrics.inboxReplayed(entries.length);
      if (entries.length > 0 && socket.connected) {
        const ids = entries.map((entry) => entry.id);
        let acked = false;
        (socket.emit as unknown as LooseEmit)('_batch', entries.map((entry) => entry.payload), () => {
          if (acked) return;
          acked = true;
          store.batchAck(namespace, device, ids).catch((error: unknown) => core.logger.warn({ err: error }, 'webservice batch ack not recorded; replayed on the next connect'));
        });
      }
    } finally {
      state.waiting.delete(device);
      for (const delivery of waiting) if (!carried.has(delivery.id) && socket.connected) emitEntry(socket, device, delivery, store, core.logger);
    }
    if (state.settings.updateUserUrl !== undefined) await notifyUser(socket, state, userRoom, 'last_connected', core);
  }
}

/** The device's connection ended: disconnected since now (the pruning clock), and the user told. */
export async function releaseDevices(socket: HeraldSocket, state: WebserviceSocketState, core: CoreServices): Promise<void> {
  const store = storeOf(core);
  for (const userRoom of state.userRooms) {
    // Unlisted after it is disconnected (same tick, same connection: Redis keeps the order).
    const [current] = await Promise.all([
      store.disconnect(socket.nsp.name, userRoom, state.deviceId, socket.id, state.settings.deviceTtl),
      socket.data.anonymous ? store.releaseAnonymous(socket.nsp.name, core.connector.id, userRoom, state.deviceId, socket.id) : undefined,
    ]);
    // A newer connection of the device took over: the user is still connected.
    if (current && state.settings.updateUserUrl !== undefined) await notifyUser(socket, state, userRoom, 'last_disconnected', core);
  }
}

/**
 * Seed `userStateChange`: `PUT update_user_url` through the webhooks queue (retried with backoff
 * by the worker), for user rooms only (not the public channel).
 */
async function notifyUser(
  socket: HeraldSocket,
  state: WebserviceSocketState,
  userRoom: string,
  field: 'last_connected' | 'last_disconnected',
  core: CoreServices,
): Promise<void> {
  const userId = webserviceUserId(state.settings, userRoom);
  if (userId === undefined || userId === '') return;
  await core.webhooks.enqueueWebserviceUser({
    kind: 'webservice-user',
    namespace: socket.nsp.name,
    clientId: socket.data.identity.clientId,
    userId,
    field,
    ...(state.token !== undefined ? { token: state.token } : {}),
    at: Date.now(),
  });
}
