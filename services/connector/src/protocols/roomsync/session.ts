import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { MAX_JSON_DEPTH, clientIdOf, isValidName, jsonDepthExceeds, roomsyncSettings, type RoomsyncSettings } from '@herald/wire';
import { RoomsyncAccounts, RoomsyncHistory, RoomsyncPresence, type Keys, type RedisClient } from '@herald/store';
import type { CoreServices } from '../../core/protocol';
import { adapterRoom, type HeraldSocket, type Identity } from '../../core/socket-data';
import { readMessage, readOffset, readRoomId } from './message';

const gzipAsync = promisify(gzip);

/** What seed 000 kept on its socket objects (`uid`, `rid`, `dummy`, `kicked`, `kicker`). */
export interface RoomsyncState {
  /** The namespace's settings read at the handshake (the auth timeout). */
  readonly settings: RoomsyncSettings;
  authenticated: boolean;
  authenticating: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The uid as the client sent it (a number stays a number on the wire). */
  uid: string | number | undefined;
  /** The uid's string form (keys, identity). */
  uidKey: string;
  room: string | undefined;
  dummy: boolean;
  /** Replaced by a newer connection of the uid: it announces nothing more. */
  kicked: boolean;
  /**
   * This connection replaced one of the same uid that was in this room: its first join there is
   * not announced (the others never saw the old one go). '' when it replaced one in no room.
   */
  replacedIn: string | undefined;
}

/** Private per-socket state (seed 000 set fields on the socket; Herald keeps SocketData generic). */
const states = new WeakMap<HeraldSocket, RoomsyncState>();

export function stateOf(socket: HeraldSocket): RoomsyncState | undefined {
  return states.get(socket);
}

export function createState(socket: HeraldSocket, stored: Readonly<Record<string, unknown>> | undefined): RoomsyncState {
  const state: RoomsyncState = {
    settings: roomsyncSettings(stored),
    authenticated: false,
    authenticating: false,
    timer: undefined,
    uid: undefined,
    uidKey: '',
    room: undefined,
    dummy: false,
    kicked: false,
    replacedIn: undefined,
  };
  states.set(socket, state);
  return state;
}

interface Stores {
  readonly accounts: RoomsyncAccounts;
  readonly history: RoomsyncHistory;
  readonly presence: RoomsyncPresence;
}
const storesByClient = new WeakMap<RedisClient, Stores>();

export function storesOf(redis: RedisClient, keys: Keys): Stores {
  let stores = storesByClient.get(redis);
  if (!stores) {
    stores = { accounts: new RoomsyncAccounts(redis, keys), history: new RoomsyncHistory(redis, keys), presence: new RoomsyncPresence(redis, keys) };
    storesByClient.set(redis, stores);
  }
  return stores;
}

/** socket.io's typed emit/on, for this protocol's own event names. */
type Emit = (event: string, ...args: unknown[]) => boolean;
type On = (event: string, listener: (...args: unknown[]) => void) => void;

/** Seed 000 texts (io-auth.js, index.js). */
export const TEXTS = Object.freeze({
  authSuccess: 'auth success',
  authTimeout: 'authentication timeout',
  authFailed: 'auth failed, uid or token is wrong',
  rateLimit: 'reach rate limit',
  serverError: 'server error',
  joinSuccess: 'join success',
  joinFailed: 'join failed, require roomId',
  msgTooLarge: 'msg too large',
  msgTooDeep: 'msg too deep',
});

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The uid of `authenticate` when it is one Herald can name a client by (names.ts). */
function readUid(value: unknown): string | undefined {
  const key = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value : undefined;
  return key !== undefined && isValidName('userid', key) ? key : undefined;
}

/**
 * The events of one roomsync socket (seed 000 websocket/index.js and io-auth.js): `authenticate`
 * within the namespace's timeout, then `join`, `leave`, `msg`, `sync`. Events sent before the
 * authentication succeeded are ignored, as the seed registered their handlers only then. Room
 * changes, messages and syncs of one socket run in order (the core's serial queue).
 */
export function bindSession(socket: HeraldSocket, core: CoreServices, state: RoomsyncState): void {
  const emit = socket.emit.bind(socket) as unknown as Emit;
  const on = socket.on.bind(socket) as unknown as On;
  const { accounts, history, presence } = storesOf(core.redis, core.keys);
  const namespace = socket.nsp.name;
  const log = core.logger;

  const refuse = (text: string): void => {
    if (!socket.connected) return;
    emit('authenticate', { status: 1, data: text });
    socket.disconnect(true);
  };
  const toRoom = (room: string) => socket.to(adapterRoom(room)) as unknown as { emit: Emit };
  /** Runs one event's work after the socket's earlier ones; a failure is logged, never thrown. */
  const queued = (name: string, work: () => Promise<void>): void => {
    void core.serial(socket, work).catch((error: unknown) => log.warn({ err: error, event: name }, 'roomsync event failed'));
  };

  state.timer = setTimeout(() => {
    if (!state.authenticated) refuse(TEXTS.authTimeout);
  }, state.settings.authTimeoutMs);

  on('authenticate', (data: unknown) => {
    if (state.authenticated || state.authenticating) return;
    state.authenticating = true;
    authenticate(data).then(
      () => {
        state.authenticating = false;
      },
      (error: unknown) => {
        state.authenticating = false;
        log.warn({ err: error }, 'roomsync authentication failed');
        refuse(TEXTS.serverError);
      },
    );
  });

  async function authenticate(data: unknown): Promise<void> {
    const body = isPlainObject(data) ? data : {};
    const uidKey = readUid(body['uid']);
    const token = typeof body['token'] === 'string' || typeof body['token'] === 'number' ? String(body['token']) : undefined;
    if (uidKey === undefined) return refuse(TEXTS.authFailed);
    // force_user_auth is read now, so that `POST /admin/system/config` applies to the next authentication.
    const settings = roomsyncSettings((await core.namespaces.settings(namespace))?.protocolSettings);
    if (settings.forceUserAuth && (token === undefined || !(await accounts.verify(namespace, uidKey, token)))) return refuse(TEXTS.authFailed);
    if (!(await accounts.allow(namespace, uidKey, settings.authRateLimit))) return refuse(TEXTS.rateLimit);
    if (!socket.connected) return;
    const previous = await presence.user(namespace, uidKey);
    const identity: Identity = Object.freeze({
      namespace,
      uuid: uidKey,
      userid: uidKey,
      platform: 'web' as const,
      clientId: clientIdOf(namespace, uidKey, 'web', uidKey),
      activityBroadcast: false,
    });
    // One session per uid on every connector: the older one gets `kickout 0` (evicted()).
    await core.identify(socket, identity, { evict: true });
    if (!socket.connected) return;
    clearTimeout(state.timer);
    state.uid = body['uid'] as string | number;
    state.uidKey = uidKey;
    state.replacedIn = previous && previous.sid !== socket.id ? (previous.room ?? '') : undefined;
    await presence.online(namespace, { sid: socket.id, uid: state.uid });
    state.authenticated = true;
    emit('authenticate', { status: 0, data: TEXTS.authSuccess });
  }

  /** Leaves the current room: Redis roster, adapter room, and `remote_leave` unless silent. */
  async function leaveRoom(announce: boolean): Promise<void> {
    const room = state.room;
    if (room === undefined) return;
    await presence.leave(namespace, room, state.uidKey, socket.id, false);
    await socket.leave(adapterRoom(room));
    if (announce && !state.kicked && !state.dummy) toRoom(room).emit('remote_leave', { uid: state.uid });
  }

  on('join', (payload: unknown) => {
    if (!state.authenticated) return;
    queued('join', async () => {
      const body = isPlainObject(payload) ? payload : {};
      const room = readRoomId(body['roomId']);
      if (room === undefined) {
        emit('join', { status: 1, data: TEXTS.joinFailed });
        return;
      }
      // The seed left a socket in every room it joined; Herald moves it (its old room is told).
      if (state.room !== undefined && state.room !== room) await leaveRoom(true);
      const dummy = Boolean(body['dummy']);
      state.dummy = dummy;
      await socket.join(adapterRoom(room));
      const members = await presence.join(namespace, room, { sid: socket.id, uid: state.uid!, dummy }, { sid: socket.id, uid: state.uid!, dummy });
      state.room = room;
      if (!socket.connected) return;
      emit('join', { status: 0, data: TEXTS.joinSuccess });
      const replacing = state.replacedIn === room;
      state.replacedIn = undefined;
      if (!dummy && !replacing) toRoom(room).emit('remote_join', { uid: state.uid });
      // One remote_join per other user in the room, on any connector; dummies stay invisible.
      for (const member of members) {
        if (String(member.uid) !== state.uidKey && !member.dummy) emit('remote_join', { uid: member.uid });
      }
    });
  });

  on('leave', () => {
    if (!state.authenticated) return;
    queued('leave', async () => {
      await leaveRoom(true);
      // The seed's disconnect handler then still saw the room and sent remote_disconnect too.
      socket.disconnect(true);
    });
  });

  on('msg', (payload: unknown) => {
    if (!state.authenticated || state.room === undefined || state.dummy) return;
    // Nested deeper than Herald stores anything (json-depth.ts): JSON.stringify and socket.io's
    // encoder would overflow the stack relaying or syncing it.
    if (jsonDepthExceeds(payload, MAX_JSON_DEPTH)) {
      emit('msg', { status: 1, data: TEXTS.msgTooDeep });
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(payload) ?? '');
    if (size > state.settings.maxMessageBytes) {
      emit('msg', { status: 1, data: TEXTS.msgTooLarge });
      return;
    }
    const message = readMessage(payload, state.uid!);
    if (!message) return;
    queued('msg', async () => {
      const room = state.room;
      if (room === undefined || state.dummy) return;
      const settings = state.settings;
      await history.store(namespace, room, message.storage, message.msgId, { ts: Date.now() / 1000, uid: state.uid, data: message.relayed }, {
        maxMessages: settings.historyMaxMessages,
        maxAgeS: settings.historyMaxAgeS,
      });
      toRoom(room).emit('msg', message.relayed);
    });
  });

  on('sync', (payload: unknown) => {
    if (!state.authenticated) return;
    queued('sync', async () => {
      const body = isPlainObject(payload) ? payload : {};
      const raw = body['offset'];
      const offset = readOffset(raw);
      const room = state.room;
      // The seed's `msg.offset == 0`: 0, '0' and '' start a sync.
      if (room !== undefined && (raw === 0 || raw === '0' || raw === '') && !state.dummy) toRoom(room).emit('remote_sync', { uid: state.uid });
      const page = room === undefined ? { data: [], offset, next: 0 } : await history.page(namespace, room, offset);
      const data = page.data.map((entry) => (isPlainObject(entry) ? entry['data'] : entry));
      if (!socket.connected) return;
      if (body['encoding'] === 'gzip') {
        const compressed = (await gzipAsync(JSON.stringify(data))).toString('base64');
        emit('sync', { data: compressed, offset: page.offset, next: page.next, encoding: 'gzip' });
      } else {
        emit('sync', { data, offset: page.offset, next: page.next });
      }
    });
  });

  socket.on('disconnect', () => {
    clearTimeout(state.timer);
    if (state.uid === undefined) return;
    queued('disconnect', async () => {
      const room = state.room;
      if (room !== undefined && !state.kicked && !state.dummy) (socket.nsp.to(adapterRoom(room)).except(socket.id) as unknown as { emit: Emit }).emit('remote_disconnect', { uid: state.uid });
      await presence.leave(namespace, room, state.uidKey, socket.id, true);
    });
  });
}
