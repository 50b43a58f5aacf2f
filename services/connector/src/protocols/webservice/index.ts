import { anonymousIdentity } from '../../core/identify';
import { Errors, HeraldError, RESERVED_EVENT_NAMES, clientIdOf, isValidName, isWebserviceUserRoom, userRoom, webserviceSettings, type StoredMessage, type WebserviceSettings } from '@herald/wire';
import type { NamespaceSettings } from '@herald/store';
import type { ParsedUrlQuery } from 'node:querystring';
import type { Admission, AdmitOptions, CoreServices, Encoded, Protocol } from '../../core/protocol';
import { adapterRoom, type HeraldSocket, type Identity } from '../../core/socket-data';
import { askAuthUrl } from './auth';
import { listenForDeliveries, releaseDevices, replayDevices, setState, stateOf, storeOf } from './devices';
import type { ReapedClient } from '../../core/liveness';

/** A query parameter given once; repeated (an array), or with a character no HTTP header can carry, is refused. */
function single(query: ParsedUrlQuery, auth: Record<string, unknown>, name: string): string | undefined {
  const value = query[name] ?? auth[name];
  if (value === undefined) return undefined;
  // An HTTP header carries ISO-8859-1 text only (RFC 9110 §5.5): token and meta go into headers.
  if (typeof value !== 'string' || /[^\u0020-\u007e\u0080-\u00ff]/.test(value)) throw new HeraldError(Errors.HS_WS_AUTH_ERROR, `${name} must be one text of printable ISO-8859-1 characters`);
  return value;
}

/**
 * Who the socket is for the core. A device (a user room, and a deviceId) is a client of its own:
 * `<site>#<user room>#web-<deviceId>`, so the duplicate-client policy, the client record and the
 * admin views work as for any client. A socket without a device (no user room prefix, or no
 * deviceId: the seed let every tab of a user share the device "") is admitted anonymous: no
 * client record, and its rooms are joined on this connector only (broadcasts reach it).
 */
function identityOf(socket: HeraldSocket, settings: WebserviceSettings, userRooms: readonly string[], deviceId: string): { identity: Identity; anonymous: boolean } {
  const namespace = socket.nsp.name;
  const primary = userRooms.find((room) => room !== settings.publicChannel) ?? userRooms[0];
  if (primary !== undefined && deviceId !== '') {
    return { identity: Object.freeze({ namespace, uuid: deviceId, userid: primary, platform: 'web', clientId: clientIdOf(namespace, primary, 'web', deviceId), activityBroadcast: false }), anonymous: false };
  }
  return { identity: anonymousIdentity(socket), anonymous: true };
}

async function admit(socket: HeraldSocket, record: NamespaceSettings, options: AdmitOptions): Promise<Admission> {
  const settings = webserviceSettings(record.protocolSettings);
  const query = socket.handshake.query;
  // socket.io v2 clients send a namespace's query in its CONNECT packet, which socket.io 4 gives as `auth`.
  const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
  const token = single(query, auth, 'token');
  const meta = single(query, auth, 'meta');
  const deviceId = single(query, auth, 'deviceId') ?? '';
  if (deviceId !== '' && !isValidName('uuid', deviceId)) throw new HeraldError(Errors.HS_WS_DEVICE_ID_INVALID);
  const rooms = await askAuthUrl({ settings, token, meta, timeoutMs: options.callbackTimeoutMs, allowPrivate: options.callbackAllowPrivate });
  const userRooms = rooms.filter((room) => isWebserviceUserRoom(settings, room));
  const { identity, anonymous } = identityOf(socket, settings, userRooms, deviceId);
  setState(socket, { settings, rooms, userRooms, deviceId, token, waiting: new Map() });
  // An anonymous socket's rooms are the protocol's to join (connected()); the core joins an identified one's.
  return { identity, rooms: anonymous ? [] : rooms, anonymous };
}

/**
 * The webservice protocol (seed 001, crossroads/socket.io-webservice; docs/protocols/webservice.md):
 * the `auth_url` handshake, `_settings {device_ttl}` then one `_batch` per device on connect, the
 * reliable per-device queue with ack callbacks and `_resync`, and `/send`'s broadcasts written as
 * the event and arguments the server sent.
 */
export const webserviceProtocol: Protocol = Object.freeze({
  name: 'webservice' as const,
  admit,

  bind(socket: HeraldSocket, core: CoreServices): void {
    listenForDeliveries(socket.nsp, core);
    const state = stateOf(socket);
    if (!state) return;
    socket.on('disconnect', () => {
      if (state.userRooms.length === 0) return;
      void core.serial(socket, () => releaseDevices(socket, state, core)).catch((error: unknown) => core.logger.error({ err: error }, 'webservice disconnect clean-up failed'));
    });
  },

  async connected(socket: HeraldSocket, core: CoreServices): Promise<void> {
    const state = stateOf(socket);
    if (!state) return;
    if (socket.data.anonymous) {
      for (const room of state.rooms) await socket.join(adapterRoom(room));
    } else {
      // Exactly the rooms auth_url named (the seed left every other room): a room kept from an
      // earlier connect of this device (the core re-joins a client's rooms) is left.
      const wanted = new Set([...state.rooms, userRoom(socket.data.identity.userid)]);
      for (const room of [...socket.data.rooms]) if (!wanted.has(room)) await core.rooms.leave(socket, room);
    }
    if (!socket.connected) return;
    (socket.emit as unknown as (event: string, ...args: unknown[]) => boolean)('_settings', { device_ttl: state.settings.deviceTtl });
    await replayDevices(socket, state, core);
  },

  /**
   * A broadcast of `/send` (no user room prefix) is stored as `pushData {event, args}` and written
   * as the seed wrote it, `<event>(...args)`. A message of another ingress (a REST push into a
   * webservice namespace) is written as the push protocol's `push` event.
   */
  encode(message: StoredMessage): Encoded {
    const { event, args } = message.pushData as { event?: unknown; args?: unknown };
    if (typeof event === 'string' && event !== '' && !RESERVED_EVENT_NAMES.includes(event) && Array.isArray(args)) return { event, args };
    return { event: 'push', args: [message] };
  },

  /**
   * A device's connector died: its devices (its user room, and the public channel) are
   * disconnected since now, so that device_ttl prunes them if they never come back. Only the
   * connection that died is touched (webservice-disconnect-1.lua checks the socket id).
   */
  async reaped(client: ReapedClient, core: CoreServices): Promise<void> {
    const record = await core.namespaces.settings(client.namespace);
    if (!record || client.uuid === '') return;
    const settings = webserviceSettings(record.protocolSettings);
    const store = storeOf(core);
    for (const room of new Set([client.userid, ...(settings.publicChannel ? [settings.publicChannel] : [])])) {
      await store.disconnect(client.namespace, room, client.uuid, client.sid, settings.deviceTtl);
    }
  },

  /**
   * A connector died: the devices its anonymous sockets held (no `deviceId`, or no user room of the
   * prefix: no client record for the core's reaper) are disconnected since now, in every
   * webservice namespace, so that device_ttl prunes them as it prunes the others.
   */
  async connectorReaped(connectorId: string, core: CoreServices): Promise<void> {
    const store = storeOf(core);
    for await (const page of core.namespaces.pages()) {
      for (const record of page) {
        if (record.protocol !== 'webservice') continue;
        await store.reapAnonymous(record.key, connectorId, webserviceSettings(record.protocolSettings).deviceTtl);
      }
    }
  },

  // The seed announced no presence, no eviction and no transfer.
  presence(): void {},
  evicted(): void {},
  transferred(): void {},
});
