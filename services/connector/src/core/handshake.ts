import type { Logger } from '@herald/log';
import { Errors, HeraldError } from '@herald/protocol';
import type { NamespaceStore } from '@herald/store';
import type { ExtendedError } from 'socket.io';
import { askConnectCallback } from './connect-callback';
import type { Eviction } from './eviction';
import { identityFromQuery } from './identity';
import type { HeraldNamespace, HeraldServer, HeraldSocket } from './socket-data';

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
 * offline, then the client's identity (identity.ts), then the duplicate-clientId policy and the
 * namespace's connect callback. A refusal reaches the client as `connect_error` whose `message` is
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
  private readonly inflight = new Map<string, number>();

  constructor(
    private readonly io: HeraldServer,
    private readonly namespaces: NamespaceStore,
    private readonly eviction: Eviction,
    private readonly options: HandshakeOptions,
    private readonly logger: Logger,
  ) {}

  readonly middleware = (socket: HeraldSocket, next: (err?: ExtendedError) => void): void => {
    const name = socket.nsp.name;
    this.inflight.set(name, (this.inflight.get(name) ?? 0) + 1);
    this.admit(socket).then(
      () => {
        this.done(socket.nsp, false);
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
      },
    );
  };

  private async admit(socket: HeraldSocket): Promise<void> {
    const nsp = socket.nsp;
    const record = await this.namespaces.settings(nsp.name);
    if (!record) throw new HeraldError(Errors.HS_NAMESPACE_NOT_FOUND);
    if (record.offline) throw new HeraldError(Errors.HS_NAMESPACE_OFFLINE);
    let identity = identityFromQuery(nsp.name, socket.handshake.query);
    if (this.options.duplicateClient === 'reject' && (await this.eviction.connectedAnywhere(nsp, identity.clientId))) {
      throw new HeraldError(Errors.HS_CONFLICT);
    }
    let callbackRooms: readonly string[] = [];
    if (record.connectCallback) {
      const decision = await askConnectCallback({
        url: record.connectCallback,
        namespace: nsp.name,
        query: socket.handshake.query,
        cookie: socket.handshake.headers.cookie,
        authorization: record.callbackAuth,
        timeoutMs: this.options.callbackTimeoutMs,
        allowPrivate: this.options.callbackAllowPrivate,
      });
      // The seed: the callback's userid changes the user (room), the clientId keeps the handshake's.
      if (decision.userid !== undefined) identity = Object.freeze({ ...identity, userid: decision.userid });
      callbackRooms = decision.rooms;
    }
    if (this.options.duplicateClient === 'kick') await this.eviction.evictEverywhere(nsp, identity.clientId);
    socket.data.identity = identity;
    socket.data.rooms = new Set();
    socket.data.callbackRooms = callbackRooms;
    socket.data.disconnectCallback = record.disconnectCallback !== undefined;
    socket.data.lastPushAt = 0;
  }

  private done(nsp: HeraldNamespace, refused: boolean): void {
    const left = (this.inflight.get(nsp.name) ?? 1) - 1;
    if (left > 0) {
      this.inflight.set(nsp.name, left);
      return;
    }
    this.inflight.delete(nsp.name);
    if (refused && nsp.sockets.size === 0) this.removeChild(nsp);
  }

  /** Mirrors what socket.io's ParentNamespace does for `cleanupEmptyChildNamespaces`. */
  private removeChild(nsp: HeraldNamespace): void {
    if (this.io._nsps.get(nsp.name) !== nsp) return;
    void nsp.adapter.close();
    this.io._nsps.delete(nsp.name);
    for (const parent of this.io['parentNsps'].values()) {
      (parent as unknown as { children: Set<unknown> }).children.delete(nsp);
    }
  }
}
