import { engineSockets } from './intake';
import type { HeraldServer } from './socket-data';

/**
 * Pings every v4 connection on a fixed beat. Engine.IO sends its next ping `pingInterval` after it
 * has read the previous pong, and the ping travels behind whatever is queued to the client. When
 * the connector falls behind (pushes queued to a client for seconds, acks and pongs read late),
 * the two delays add up between two pings, and once the gap passes the client's own deadline
 * (interval + timeout) the client closes with "ping timeout" and loses what was still queued to
 * it: bench S7 with two CPU burners beside it, 235 of 1 000 clients and 32 783 deliveries. On a
 * beat the gap no longer waits for the pong: it is the beat plus how much the queue grew meanwhile.
 *
 * The beat is a little shorter than `pingInterval`, so a live client's pong normally arrives
 * before Engine.IO's own ping is due (each pong restarts its interval): the number of pings stays
 * about what it was. Engine.IO still finds a dead client as before: no pong for `pingInterval`,
 * then its own ping unanswered for `pingTimeout`. v2 clients (Engine.IO 3) ping the server and
 * count every packet they receive as a heartbeat: they are left alone.
 */
export class PingBeat {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly servers: readonly HeraldServer[],
    pingIntervalMs: number,
  ) {
    this.timer = setInterval(() => this.beat(), Math.max(50, Math.round(0.9 * pingIntervalMs)));
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    for (const socket of engineSockets(this.servers)) {
      if (socket.protocol >= 4 && socket.readyState === 'open') socket.sendPacket?.('ping');
    }
  }
}
