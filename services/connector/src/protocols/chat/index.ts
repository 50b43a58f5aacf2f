import { anonymousIdentity } from '../../core/identify';
import { ChatStore } from '@herald/store';
import { type ChatMessageEvent, type StoredMessage } from '@herald/wire';
import type { Admission, CoreServices, Encoded, Protocol } from '../../core/protocol';
import type { HeraldSocket } from '../../core/socket-data';
import { bindChatEvents } from './events';

/** One store per Redis connection of a connector (the protocol object itself is shared and frozen). */
const stores = new WeakMap<object, ChatStore>();

function storeOf(core: CoreServices): ChatStore {
  let store = stores.get(core.redis);
  if (!store) {
    store = new ChatStore(core.redis, core.keys);
    stores.set(core.redis, store);
  }
  return store;
}

/**
 * A delivered message as a chat client gets it: `message {metaData, id}` (seed 004). Messages sent
 * by chat clients carry exactly that in their pushData; a push of the REST API to a chat user
 * (`room: user_<userId>`) has its pushData as `metaData` and the Herald id as a string.
 */
export function chatMessageOf(message: StoredMessage): ChatMessageEvent {
  const { pushData } = message;
  const metaData = pushData['metaData'];
  const id = pushData['id'];
  if (metaData !== null && typeof metaData === 'object' && !Array.isArray(metaData) && typeof id === 'string') {
    return { metaData: metaData as Record<string, unknown>, id };
  }
  return { metaData: pushData, id: String(message.id) };
}

/**
 * The chat protocol (seed 004, xRealtime; docs/protocols/chat.md) on the neutral core. Seed clients
 * connect to the root namespace on `/wechat` (HERALD_SOCKET_PATHS `/wechat=/<namespace>`) as nobody
 * (anonymous admission) and get `connected {socketId}`; `logIn` makes the socket the user's client
 * on every connector (core `identify`) and hands out a session token bound to the socket. Messages
 * go to users through their user rooms (events.ts, messages.ts).
 */
export const chatProtocol: Protocol = Object.freeze({
  name: 'chat' as const,

  async admit(socket: HeraldSocket): Promise<Admission> {
    // Nobody until `logIn`.
    return { identity: anonymousIdentity(socket), rooms: [], anonymous: true };
  },

  bind(socket: HeraldSocket, core: CoreServices): void {
    bindChatEvents(socket, core, storeOf(core));
  },

  async connected(socket: HeraldSocket): Promise<void> {
    // The seed's greeting: the id `logIn` must name.
    if (socket.connected) (socket.emit as (event: string, payload: unknown) => boolean)('connected', { socketId: socket.id });
  },

  encode(message: StoredMessage): Encoded {
    return { event: 'message', args: [chatMessageOf(message)] };
  },

  // Chat clients are told of no presence change, and there is no notice of a transfer.
  presence(): void {},

  transferred(): void {},

  // logIn identifies without eviction (a user may be logged in from several sockets); a client
  // evicted by another path is simply disconnected, as the seed had no such notice.
  evicted(): void {},
});
