import type { HeraldServer } from './socket-data';

/** The part of an engine.io socket the valve touches: its transport's WebSocket, if any. */
interface EngineSocketLike {
  readonly transport?: { readonly name?: string; readonly socket?: { pause?: () => void; resume?: () => void } };
  on(event: 'upgrade', listener: () => void): unknown;
}

/**
 * Stops and restarts reading from every client connection of this connector: backpressure for the
 * report path (report-batcher.ts) when Redis takes its updates slower than clients send acks.
 * A paused WebSocket is not read (ws `pause()`): the kernel's receive buffer fills and TCP slows
 * the clients down; nothing is lost, acks arrive later. Writes (pushes, pings) go on. Long-polling
 * clients cannot be paused this way; their requests are still read.
 */
export class IntakeValve {
  private paused = false;

  /** Every socket.io server of the connector (one per HERALD_SOCKET_PATHS entry). */
  constructor(private readonly servers: readonly HeraldServer[]) {
    for (const io of servers) {
      io.engine.on('connection', (socket: EngineSocketLike) => {
        if (this.paused) this.apply(socket, true);
        socket.on('upgrade', () => {
          if (this.paused) this.apply(socket, true);
        });
      });
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  set(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    // engine.io keeps its connections in `clients` (id → socket), typed protected.
    for (const io of this.servers) {
      const clients = (io.engine as unknown as { clients: Record<string, EngineSocketLike> }).clients;
      for (const socket of Object.values(clients)) this.apply(socket, paused);
    }
  }

  private apply(socket: EngineSocketLike, paused: boolean): void {
    const transport = socket.transport;
    if (transport?.name !== 'websocket') return;
    if (paused) transport.socket?.pause?.();
    else transport.socket?.resume?.();
  }
}
