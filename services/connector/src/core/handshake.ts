import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { DEFAULT_PROTOCOL, Errors, HeraldError } from '@herald/wire';
import type { NamespaceStore } from '@herald/store';
import type { ExtendedError } from 'socket.io';
import type { Eviction } from './eviction';
import type { Protocol } from './protocol';
import type { HeraldNamespace, HeraldSocket } from './socket-data';

/** The protocols this connector serves, by name (protocols/registry.ts). */
export interface ProtocolLookup {
  get(name: string): Protocol | undefined;
}

export interface HandshakeOptions {
  /** HERALD_DUPLICATE_CLIENT */
  readonly duplicateClient: 'kick' | 'reject';
  /** HERALD_CALLBACK_TIMEOUT_MS */
  readonly callbackTimeoutMs: number;
  /** HERALD_CALLBACK_ALLOW_PRIVATE */
  readonly callbackAllowPrivate: boolean;
}

/**
 * The handshake of every namespace socket, in the seed's order: the namespace exists, is not
 * offline, its protocol is served here, then the protocol admits the client (its identity and, for
 * the push protocol, the namespace's connect callback), then the duplicate-clientId policy. A refusal reaches the client as `connect_error` whose `message` is
 * the seed's text and whose `data.code` is the catalogue code.
 *
 * The callback runs before an old connection is kicked: a newcomer the third-party server refuses
 * must not be able to throw out the legitimate client.
 *
 * Namespaces are socket.io child namespaces of one parent (`io.of(/^\/.+/)`), created on first
 * connect. socket.io removes an empty child only when a connected socket leaves it, so a child
 * created by a refused handshake (say, for a namespace that does not exist) would stay for ever;
 * the gate removes it, unless another handshake for it is still running.
 */
export class HandshakeGate {
  /** Handshakes running per namespace object (one per socket.io server: socket-paths.ts). */
  private readonly inflight = new Map<HeraldNamespace, number>();
  /** The protocol of each namespace with admitted sockets here, for delivery. */
  private readonly protocols = new WeakMap<HeraldNamespace, Protocol>();

  constructor(
    private readonly registry: ProtocolLookup,
    private readonly namespaces: NamespaceStore,
    private readonly eviction: Eviction,
    private readonly options: HandshakeOptions,
    private readonly logger: Logger,
  ) {}

  readonly middleware = (socket: HeraldSocket, next: (err?: ExtendedError) => void): void => {
    const name = socket.nsp.name;
    this.inflight.set(socket.nsp, (this.inflight.get(socket.nsp) ?? 0) + 1);
    this.admit(socket).then(
      () => {
        this.done(socket.nsp, false);
        metrics.handshake(name, 'ok');
        next();
      },
      (error: unknown) => {
        const herald = error instanceof HeraldError ? error : new HeraldError(Errors.HS_UNAVAILABLE);
        if (!(error instanceof HeraldError)) this.logger.error({ err: error, namespace: name }, 'handshake failed');
        const refusal: ExtendedError = new Error(herald.message);
        // socket.io sends v2 (Engine.IO 3) clients `data` instead of the message when data is set;
        // they get the seed's bare text, v4 clients get both.
        if (socket.conn.protocol !== 3) refusal.data = { code: herald.code };
        next(refusal);
        this.done(socket.nsp, true);
        metrics.handshake(name, herald.code);
      },
    );
  };

  /** The protocol the namespace's sockets were admitted with (undefined: none admitted here yet). */
  protocolOf(nsp: HeraldNamespace): Protocol | undefined {
    return this.protocols.get(nsp);
  }

  private async admit(socket: HeraldSocket): Promise<void> {
    const nsp = socket.nsp;
    const record = await this.namespaces.settings(nsp.name);
    if (!record) throw new HeraldError(Errors.HS_NAMESPACE_NOT_FOUND);
    if (record.offline) throw new HeraldError(Errors.HS_NAMESPACE_OFFLINE);
    const name = record.protocol ?? DEFAULT_PROTOCOL;
    const protocol = this.registry.get(name);
    if (!protocol) throw new HeraldError(Errors.HS_PROTOCOL_UNSUPPORTED, name);
    // The protocol authenticates (the callback runs before an old connection is kicked).
    const { identity, rooms, anonymous = false } = await protocol.admit(socket, record, {
      callbackTimeoutMs: this.options.callbackTimeoutMs,
      callbackAllowPrivate: this.options.callbackAllowPrivate,
    });
    if (!anonymous && this.options.duplicateClient === 'reject' && (await this.eviction.connectedAnywhere(nsp, identity.clientId))) {
      throw new HeraldError(Errors.HS_CONFLICT);
    }
    if (!anonymous && this.options.duplicateClient === 'kick') await this.eviction.evictEverywhere(nsp, identity.clientId);
    this.protocols.set(nsp, protocol);
    socket.data.protocol = protocol;
    socket.data.identity = identity;
    socket.data.admitted = identity;
    socket.data.anonymous = anonymous;
    socket.data.offered = new Set();
    socket.data.rooms = new Set();
    socket.data.callbackRooms = rooms;
    socket.data.disconnectCallback = record.disconnectCallback !== undefined;
    socket.data.lastPushAt = 0;
  }

  private done(nsp: HeraldNamespace, refused: boolean): void {
    const left = (this.inflight.get(nsp) ?? 1) - 1;
    if (left > 0) {
      this.inflight.set(nsp, left);
      return;
    }
    this.inflight.delete(nsp);
    if (refused && nsp.sockets.size === 0) this.removeChild(nsp);
  }

  /** Mirrors what socket.io's ParentNamespace does for `cleanupEmptyChildNamespaces`. */
  private removeChild(nsp: HeraldNamespace): void {
    // The namespace's own server: a connector runs one per socket.io path (socket-paths.ts).
    const io = nsp.server;
    if (io._nsps.get(nsp.name) !== nsp) return;
    void nsp.adapter.close();
    io._nsps.delete(nsp.name);
    for (const parent of io['parentNsps'].values()) {
      (parent as unknown as { children: Set<unknown> }).children.delete(nsp);
    }
  }
}
