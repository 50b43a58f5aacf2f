import { anonymousIdentity } from '../../core/identify';
import { SessionsConnections, type NamespaceSettings } from '@herald/store';
import { sessionIdOf, type StoredMessage } from '@herald/wire';
import type { Admission, CoreServices, Encoded, Protocol } from '../../core/protocol';
import type { HeraldSocket } from '../../core/socket-data';
import { SessionsHub } from './hub';
import { ReasonLog } from './reason-log';

/** One hub per connector (keyed by its ConnectorContext), created with the first socket it admits. */
const hubs = new WeakMap<object, SessionsHub>();
/** The namespace settings each admitted socket was admitted with, until bound. */
const admittedWith = new WeakMap<HeraldSocket, Readonly<Record<string, unknown>>>();

function hubOf(core: CoreServices): SessionsHub {
  let hub = hubs.get(core.connector);
  if (!hub) {
    const logger = core.connector.logger.child({ module: 'sessions' });
    hub = new SessionsHub({
      redisTarget: core.connector.redisTarget,
      connections: new SessionsConnections(core.redis, core.keys),
      connectorId: core.connector.id,
      logger,
    });
    hubs.set(core.connector, hub);
  }
  return hub;
}

/** Per connector: `authenticate` payloads that are no session id, logged at most once a minute. */
const invalidPayloads = new WeakMap<object, ReasonLog>();

/**
 * The sessions protocol (seed 003, yunity-sockets; docs/protocols/sessions.md). Seed clients connect
 * to the root namespace on `path: '/socket'` (HERALD_SOCKET_PATHS `/socket=/<namespace>`), anonymous:
 * nothing is delivered to them until `authenticate {sessionId}` finds the session's user in the
 * application's Redis (`<session_key_prefix><sessionId>` → user id), which puts the socket in that
 * user's room. Keyspace notifications on the key re-bind every socket with that session, live, on
 * every connector; JSON messages on `notifications_channel` reach the named users' sockets as
 * `message`. The seed answers nothing: no ack, no error event, no greeting.
 */
export const sessionsProtocol: Protocol = Object.freeze({
  name: 'sessions' as const,

  async admit(socket: HeraldSocket, record: NamespaceSettings): Promise<Admission> {
    admittedWith.set(socket, record.protocolSettings);
    // Anonymous until `authenticate` (late identity).
    return { identity: anonymousIdentity(socket), rooms: [], anonymous: true };
  },

  bind(socket: HeraldSocket, core: CoreServices): void {
    const hub = hubOf(core);
    hub.attach(socket, core, admittedWith.get(socket) ?? {});
    admittedWith.delete(socket);
    socket.on('authenticate' as never, ((payload: unknown) => {
      const sessionId = sessionIdOf(payload);
      if (typeof sessionId !== 'string') {
        let log = invalidPayloads.get(core.connector);
        if (!log) invalidPayloads.set(core.connector, (log = new ReasonLog(core.connector.logger.child({ module: 'sessions' }))));
        log.warn('authenticate_invalid', { namespace: socket.nsp.name, detail: sessionId.invalid }, 'sessions: authenticate ignored');
        return;
      }
      void hub.authenticate(socket, sessionId);
    }) as never);
    socket.on('disconnect', () => {
      void core.serial(socket, () => hub.detach(socket)).catch((error: unknown) => core.logger.warn({ err: error }, 'sessions: detach failed'));
    });
  },

  async connected(): Promise<void> {
    // The seed greets nobody.
  },

  /** A message published to a sessions namespace (REST push to a user room) reaches its clients as the seed's `message`. */
  encode(message: StoredMessage): Encoded {
    return { event: 'message', args: [message.pushData] };
  },

  presence(): void {
    // No presence events in seed 003.
  },

  evicted(): void {
    // Sessions sockets are identified with `evict: false`: never evicted.
  },

  transferred(): void {
    // No room transfers in seed 003.
  },
});
