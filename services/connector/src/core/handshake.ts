import type { Logger } from '@herald/log';
import { Errors, HeraldError } from '@herald/protocol';
import type { NamespaceStore } from '@herald/store';
import type { ExtendedError } from 'socket.io';
import { identityFromQuery } from './identity';
import type { HeraldNamespace, HeraldServer, HeraldSocket } from './socket-data';

/**
 * The handshake of every namespace socket, in the seed's order: the namespace exists, is not
 * offline, then the client's identity (identity.ts). A refusal reaches the client as `connect_error`
 * whose `message` is the seed's text and whose `data.code` is the catalogue code.
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
        refusal.data = { code: herald.code };
        next(refusal);
        this.done(socket.nsp, true);
      },
    );
  };

  private async admit(socket: HeraldSocket): Promise<void> {
    const name = socket.nsp.name;
    const record = await this.namespaces.get(name);
    if (!record) throw new HeraldError(Errors.HS_NAMESPACE_NOT_FOUND);
    if (record.offline) throw new HeraldError(Errors.HS_NAMESPACE_OFFLINE);
    const identity = identityFromQuery(name, socket.handshake.query);
    socket.data.identity = identity;
    socket.data.rooms = new Set();
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
