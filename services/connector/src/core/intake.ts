import type { HeraldServer } from './socket-data';

/**
 * The part of an engine.io socket the valve and the ping beat touch: its transport's WebSocket,
 * its protocol revision (3: socket.io v2 clients, 4: v3/v4), and — private in engine.io's
 * typings — its heartbeat deadline and packet writer.
 */
export interface EngineSocketLike {
  readonly protocol: number;
  readonly readyState: string;
  readonly transport?: { readonly name?: string; readonly socket?: { pause?: () => void; resume?: () => void } };
  /** The deadline of the client's pong (v4) or next ping (v3); null between heartbeats. */
  readonly pingTimeoutTimer?: { refresh(): unknown } | null;
  sendPacket?(type: 'ping' | 'pong'): void;
  on(event: 'upgrade' | 'close', listener: () => void): unknown;
}

/** Every engine.io connection of the servers (engine.io keeps them in `clients`, typed protected). */
export function engineSockets(servers: readonly HeraldServer[]): EngineSocketLike[] {
  return servers.flatMap((io) => Object.values((io.engine as unknown as { clients: Record<string, EngineSocketLike> }).clients));
}

export interface IntakeValveOptions {
  /** Engine.IO's `pingInterval` and `pingTimeout` of the servers (HERALD_PING_*). */
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  /**
   * Connections resumed per turn of the event loop when intake opens again. Each brings what the
   * kernel buffered for it while it was held, so resuming all at once lands everything in one turn
   * (far past the report path's bound, and the loop busy for seconds).
   * @default 50
   */
  readonly resumeSlice?: number;
}

/**
 * Stops and restarts reading from every client connection of this connector: backpressure for the
 * report path (report-batcher.ts) when Redis takes its updates slower than clients send acks.
 * A held WebSocket is not read (ws `pause()`): the kernel's receive buffer fills and TCP slows
 * the clients down; nothing is lost, acks arrive later. Writes (pushes) go on. Long-polling
 * clients cannot be held this way; their requests are still read.
 *
 * A held connection cannot answer the heartbeat: its pongs (v4) and pings (v3) wait unread in the
 * kernel. So while it is held the valve keeps the heartbeat itself: it pings a v4 client and pongs
 * a v2 client (each then knows the connector is alive) and pushes back the connector's own
 * deadline for that client's answer. Without that, a hold longer than the ping timeout closed the
 * connections with "ping timeout" and the acks they had sent were lost with them. A dead client is
 * found once intake resumes.
 *
 * Intake opens again gradually, `resumeSlice` connections per turn, those held longest first, and
 * stops when the report path pushes back again: the rest stay held, first in line next time.
 */
export class IntakeValve {
  private paused = false;
  /** WebSocket connections not read, in the order they were held. */
  private readonly held = new Set<EngineSocketLike>();
  private keepAlive: NodeJS.Timeout | undefined;
  private releasing: NodeJS.Immediate | undefined;
  private readonly resumeSlice: number;
  private readonly keepEveryMs: number;

  /** Every socket.io server of the connector (one per HERALD_SOCKET_PATHS entry). */
  constructor(
    private readonly servers: readonly HeraldServer[],
    options: IntakeValveOptions,
  ) {
    this.resumeSlice = options.resumeSlice ?? 50;
    // Twice per the shorter of the two: a client hears from the connector well within its own
    // deadline (interval + timeout), and the connector's deadline never runs out.
    this.keepEveryMs = Math.max(50, Math.min(options.pingIntervalMs, options.pingTimeoutMs) / 2);
    for (const io of servers) {
      io.engine.on('connection', (socket: EngineSocketLike) => {
        if (this.paused) this.hold(socket);
        socket.on('upgrade', () => {
          if (this.paused) this.hold(socket);
        });
        socket.on('close', () => this.held.delete(socket));
      });
    }
  }

  set(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) {
      this.stopReleasing();
      for (const socket of engineSockets(this.servers)) if (!this.held.has(socket)) this.hold(socket);
      this.keepAlive ??= setInterval(() => this.keepHeartbeats(), this.keepEveryMs);
    } else this.release();
  }

  /** Stops the heartbeat keeping (shutdown); held connections stay as they are. */
  close(): void {
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.stopReleasing();
  }

  private stopReleasing(): void {
    if (this.releasing) clearImmediate(this.releasing);
    this.releasing = undefined;
  }

  private hold(socket: EngineSocketLike): void {
    const ws = socket.transport?.name === 'websocket' ? socket.transport.socket : undefined;
    if (!ws) return;
    ws.pause?.();
    this.held.add(socket);
  }

  /** One slice per turn of the event loop, while intake stays open. */
  private release(): void {
    this.releasing = undefined;
    if (this.paused) return;
    let n = 0;
    for (const socket of this.held) {
      if (n++ === this.resumeSlice) {
        this.releasing = setImmediate(() => this.release());
        return;
      }
      this.held.delete(socket);
      socket.transport?.socket?.resume?.();
    }
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  /** What a held connection's unread heartbeat would have done: each side knows the other is alive. */
  private keepHeartbeats(): void {
    for (const socket of this.held) {
      if (socket.readyState !== 'open') continue;
      socket.sendPacket?.(socket.protocol === 3 ? 'pong' : 'ping');
      socket.pingTimeoutTimer?.refresh();
    }
  }
}
