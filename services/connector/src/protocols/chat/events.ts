import { randomBytes } from 'node:crypto';
import { metrics } from '@herald/metrics';
import {
  CHAT_UUID,
  ConversationAddPayload,
  ConversationMessagePayload,
  DEFAULT_PROTECTED,
  DeviceRegisterPayload,
  DirectPayload,
  Errors,
  GroupMessagePayload,
  HeraldError,
  LogInPayload,
  chatClientId,
  compileValidator,
  type ChatAck,
  type Validator,
} from '@herald/wire';
import type { ChatConversation, ChatSession, ChatStore } from '@herald/store';
import type { CoreServices } from '../../core/protocol';
import type { HeraldSocket } from '../../core/socket-data';
import { answer } from './answers';
import { SendBudget, chatId, metaDataOf, sendToUsers, settingsOf, spend, type SendContext } from './messages';

const validLogIn = compileValidator(LogInPayload);
const validDirect = compileValidator(DirectPayload);
const validConversationMessage = compileValidator(ConversationMessagePayload);
const validGroupMessage = compileValidator(GroupMessagePayload);
const validConversationAdd = compileValidator(ConversationAddPayload);
const validDevice = compileValidator(DeviceRegisterPayload);

/** Checks a payload with its schema: a precise error, never a crash (a payload may be anything). */
function check<T>(validate: Validator<T>, payload: unknown): T & Record<string, unknown> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new HeraldError(Errors.CHAT_PAYLOAD_INVALID, 'must be an object');
  if (!validate(payload)) throw new HeraldError(Errors.CHAT_PAYLOAD_INVALID, validate.lastError());
  return payload as T & Record<string, unknown>;
}

/** What a chat socket holds beyond the core's socket data: its live session token. */
interface SocketSession {
  token?: string;
  /** `logIn`s of one socket run one after the other (identify, token swap, replay). */
  chain: Promise<void>;
}

const sessions = new WeakMap<HeraldSocket, SocketSession>();

function sessionOf(socket: HeraldSocket): SocketSession {
  let session = sessions.get(socket);
  if (!session) {
    session = { chain: Promise.resolve() };
    sessions.set(socket, session);
  }
  return session;
}

/**
 * The socket ids a client may name in `logIn`: the server's id of its socket (what `connected`
 * sent), or — for a socket.io v2 client, whose own `socket.id` on the root namespace is the bare
 * Engine.IO id — that id.
 */
function ownSocketId(socket: HeraldSocket, claimed: string): boolean {
  return claimed === socket.id || claimed === (socket.conn as unknown as { readonly id: string }).id;
}

/**
 * The client events of the chat protocol (seed 004, docs/protocols/chat.md). Every event is
 * answered through its ack in the seed's `{statusCode, body}` envelope; a bad payload gets an error
 * answer and changes nothing.
 */
export function bindChatEvents(socket: HeraldSocket, core: CoreServices, store: ChatStore): void {
  const namespace = socket.nsp.name;
  const ctx: SendContext = { core, store, namespace, budget: new SendBudget() };
  const logger = core.logger;

  /** The user of a token presented on this socket; refused when unknown, expired or another socket's. */
  const authorize = async (token: string): Promise<ChatSession> => {
    const session = await store.session(namespace, token);
    const { anonymous, identity } = socket.data;
    if (!session || session.socketId !== socket.id || sessions.get(socket)?.token !== token || anonymous || identity.userid !== session.userId) {
      throw new HeraldError(Errors.CHAT_TOKEN_INVALID);
    }
    return session;
  };

  const logIn = async (payload: unknown): Promise<ChatAck> => {
    const { userId, socketId } = check(validLogIn, payload);
    if (!ownSocketId(socket, socketId)) throw new HeraldError(Errors.CHAT_SOCKET_MISMATCH);
    const state = sessionOf(socket);
    const settings = await settingsOf(ctx);
    const clientId = chatClientId(namespace, userId);
    // The socket becomes this user's client on every connector: user-targeted messages reach it.
    await core.identify(socket, Object.freeze({ namespace, uuid: CHAT_UUID, userid: userId, platform: 'web' as const, clientId, activityBroadcast: false }), { evict: false });
    if (state.token) await store.dropSession(namespace, state.token);
    const sessionToken = randomBytes(16).toString('hex');
    await store.createSession(namespace, sessionToken, { userId, socketId: socket.id }, settings.session_token_ttl);
    state.token = sessionToken;
    if (!socket.connected) {
      // Gone while logging in: its disconnect clean-up may have run before the token existed.
      await store.dropSession(namespace, sessionToken);
    }
    return { statusCode: 200, body: { userId, socketId, sessionToken } };
  };

  // The chat events are not in the push protocol's typed event map (libs/wire events.ts).
  const on = (event: string, listener: (payload: unknown, ack?: unknown) => void): void =>
    void (socket as unknown as { on(event: string, listener: (payload: unknown, ack?: unknown) => void): unknown }).on(event, listener);

  on('logIn', (payload, ack) => {
    const state = sessionOf(socket);
    const result = state.chain.then(() => logIn(payload));
    state.chain = result.then(
      () => undefined,
      () => undefined,
    );
    answer(ack, logger, async () => {
      const loggedIn = await result;
      // After the answer: the messages kept while the user was offline, oldest first.
      setImmediate(() => void replayInbox(socket, core).catch((error: unknown) => logger.warn({ err: error }, 'chat inbox replay failed')));
      return loggedIn;
    });
  });

  const onMessage = (event: string, work: (payload: unknown) => Promise<ChatAck>): void =>
    on(event, (payload, ack) => answer(ack, logger, () => work(payload)));

  onMessage('message/direct', async (payload) => {
    const data = check(validDirect, payload);
    const session = await authorize(data.sessionToken);
    return sendToUsers(ctx, data.targetIds, metaDataOf(data, session.userId), await settingsOf(ctx));
  });

  const toConversation = async (data: { sessionToken: string; ignoreIds?: string[] } & Record<string, unknown>, id: string): Promise<ChatAck> => {
    const session = await authorize(data.sessionToken);
    const conversation = await store.conversation(namespace, id);
    if (!conversation) throw new HeraldError(Errors.CHAT_CONVERSATION_NOT_FOUND);
    const audience = new Set([...conversation.admin, ...conversation.members]);
    if (!audience.has(session.userId)) throw new HeraldError(Errors.CHAT_NOT_A_MEMBER);
    const ignored = new Set([...(data.ignoreIds ?? []), session.userId]);
    return sendToUsers(ctx, [...audience].filter((user) => !ignored.has(user)), metaDataOf(data, session.userId), await settingsOf(ctx));
  };

  onMessage('message/conversation', async (payload) => {
    const data = check(validConversationMessage, payload);
    return toConversation(data, data.conversationId);
  });

  // Seed: members of a LeanCloud ChatGroup; on Herald a group is a conversation ([BUG] fixed: the
  // seed read `message.groupId` instead of the payload's, so it never found the group).
  onMessage('message/group', async (payload) => {
    const data = check(validGroupMessage, payload);
    return toConversation(data, data.groupId);
  });

  onMessage('conversation/add', async (payload) => {
    const data = check(validConversationAdd, payload);
    const session = await authorize(data.sessionToken);
    const { sessionToken: _token, name, members, admin, protected: guarded, ...attributes } = data;
    const conversation: ChatConversation = {
      id: chatId(),
      ...(name !== undefined ? { name } : {}),
      members: [...new Set(members ?? [])],
      admin: [...new Set(admin && admin.length > 0 ? admin : [session.userId])],
      protected: [...new Set(guarded ?? DEFAULT_PROTECTED)],
      createdBy: session.userId,
      createdAt: Date.now(),
      attributes: metaDataOf(attributes, session.userId),
    };
    delete conversation.attributes['from'];
    // A stored conversation costs the budget like a message to its members: no unbounded creation.
    spend(ctx, new Set([...conversation.members, ...conversation.admin]).size, await settingsOf(ctx));
    await store.saveConversation(namespace, conversation);
    const { attributes: custom, ...fixed } = conversation;
    return { statusCode: 201, body: { ...custom, ...fixed } };
  });

  onMessage('device/register', async (payload) => {
    const data = check(validDevice, payload);
    const session = await authorize(data.sessionToken);
    await store.registerDevice(namespace, session.userId, data.deviceToken);
    return { statusCode: 200, body: { userId: session.userId, registered: data.deviceToken !== null } };
  });

  socket.on('disconnect', () => {
    const state = sessions.get(socket);
    // After a logIn in flight, so that its token is dropped too.
    void state?.chain.then(async () => {
      if (state.token) await store.dropSession(namespace, state.token);
    }).catch((error: unknown) => logger.warn({ err: error }, 'chat session clean-up failed'));
  });
}

/**
 * The messages kept for the user while it was offline (its inbox), as `message` events, oldest
 * first. Seed clients acknowledge nothing, so each counts as acknowledged once written to the
 * socket: it leaves the inbox and counts in its report (acks.ts: offered by the replay).
 */
export async function replayInbox(socket: HeraldSocket, core: CoreServices): Promise<void> {
  const { anonymous, identity } = socket.data;
  if (anonymous || !socket.connected) return;
  const messages = await core.inbox.pending(identity.clientId, identity.namespace);
  metrics.inboxReplayed(messages.length);
  if (messages.length === 0 || !socket.connected) return;
  const { encode } = socket.data.protocol;
  core.acks.offered(socket, messages.map((m) => m.id));
  for (const message of messages) {
    const { event, args } = encode(message);
    (socket.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    core.acks.ack(socket, message.id);
  }
}
