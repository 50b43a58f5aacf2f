import type { Logger } from '@herald/log';
import type { ClientStore } from '@herald/store';
import { clientRoom, type HeraldNamespace, type HeraldSocket } from './socket-data';

/**
 * One connection per clientId, cluster-wide (HERALD_DUPLICATE_CLIENT).
 *
 * `kick` (default): the newest connection wins. Each connector holding a socket of the client has
 * its protocol tell it (push: `kickout {reason:"duplicate"}`), disconnects it, waits for its clean-up, and only then answers;
 * the new connection is recorded after every answer, so no clean-up of the old socket can undo it.
 * `reject`: the newcomer is refused with `socket.id conflict` while the client is connected anywhere.
 */
export class Eviction {
  constructor(
    /** Resolves when a socket's disconnect clean-up is done (connector.ts queues it per socket). */
    private readonly cleanedUp: (socket: HeraldSocket) => Promise<void>,
    private readonly clients: ClientStore,
    /** This connector's id, as client records name it. */
    private readonly connectorId: string,
    private readonly logger: Logger,
    /**
     * The namespace's objects on every socket.io server of this connector (one per path:
     * socket-paths.ts); a client's socket may be on any of them.
     * @default only the namespace itself
     */
    private readonly siblings: (nsp: HeraldNamespace) => HeraldNamespace[] = (nsp) => [nsp],
  ) {}

  /** Disconnects this connector's sockets of `clientId`; resolves with how many, after clean-up. */
  async evictLocal(nsp: HeraldNamespace, clientId: string): Promise<number> {
    const sids = [...(nsp.adapter.rooms.get(clientRoom(clientId)) ?? [])];
    const sockets = sids.map((sid) => nsp.sockets.get(sid)).filter((s): s is HeraldSocket => s !== undefined);
    for (const socket of sockets) {
      socket.data.disconnectReason = 'kicked';
      socket.data.protocol.evicted(socket);
      socket.disconnect(true);
    }
    await Promise.all(sockets.map((socket) => this.cleanedUp(socket)));
    return sockets.length;
  }

  /**
   * Evicts the client's sockets on every connector. The client record says where its current
   * connection is: nowhere (the usual case: no cluster round trip at all), here, or on another
   * connector — only then are the others asked, and their answers awaited.
   */
  async evictEverywhere(nsp: HeraldNamespace, clientId: string): Promise<void> {
    const record = await this.clients.record(clientId);
    const local = Promise.all(this.siblings(nsp).map((sibling) => this.evictLocal(sibling, clientId)));
    if (record['sid'] && record['connector'] && record['connector'] !== this.connectorId) {
      try {
        await nsp.serverSideEmitWithAck('herald:evict', clientId);
      } catch (error) {
        // A connector that did not answer in time is busy or dying; its socket, if any, is cleaned
        // up by its own disconnect or by the reaper. The newcomer is not held hostage by it.
        this.logger.warn({ err: (error as Error).message, clientId }, 'eviction not confirmed by every connector');
      }
    }
    await local;
  }

  /** True when a socket of the client is connected on any connector. */
  async connectedAnywhere(nsp: HeraldNamespace, clientId: string): Promise<boolean> {
    if (this.siblings(nsp).some((sibling) => (sibling.adapter.rooms.get(clientRoom(clientId))?.size ?? 0) > 0)) return true;
    // Nothing recorded: not connected anywhere, no need to ask the other connectors.
    if (!(await this.clients.record(clientId))['sid']) return false;
    const sockets = await nsp.in(clientRoom(clientId)).fetchSockets();
    return sockets.length > 0;
  }
}
