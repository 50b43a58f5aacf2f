import type { Logger } from '@herald/log';
import type { ClientStore, ConnectorRegistry, RoomStore } from '@herald/store';
import { isPlatform, userRoom } from '@herald/protocol';

/**
 * Heartbeat and reaper. A connector killed with SIGKILL (or whose host vanished) cannot mark its
 * clients offline; every connector beats every `intervalMs`, and checks for connectors silent for
 * three intervals. The first to claim a dead one marks each of its clients offline in every room,
 * unless the client has since connected elsewhere.
 */
export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /**
   * Since when this connector's beats have been succeeding. After a Redis outage every connector's
   * last beat is old; a connector reaps others only once it has itself been beating for three
   * intervals, which gives them the same time to beat again — live clients are never reaped.
   */
  private healthySince = Date.now();

  constructor(
    private readonly connectorId: string,
    private readonly registry: ConnectorRegistry,
    private readonly clients: ClientStore,
    private readonly rooms: RoomStore,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.registry.beat(this.connectorId);
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.registry.beat(this.connectorId);
    } catch (error) {
      this.healthySince = Number.POSITIVE_INFINITY;
      this.logger.warn({ err: (error as Error).message }, 'heartbeat failed');
      return;
    }
    const now = Date.now();
    if (this.healthySince === Number.POSITIVE_INFINITY) this.healthySince = now;
    if (now - this.healthySince < 3 * this.intervalMs) return;
    try {
      await this.reap(now - 3 * this.intervalMs);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'reaping failed');
    }
  }

  /** Cleans up every connector whose last beat is older than `before`. */
  async reap(before: number): Promise<number> {
    let reaped = 0;
    for (const dead of await this.registry.stale(before)) {
      if (dead === this.connectorId || !(await this.registry.claim(dead))) continue;
      let count = 0;
      for await (const page of this.registry.clients(dead)) {
        for (const clientId of page) {
          const record = await this.clients.record(clientId);
          // Connected again somewhere else (or already cleaned up): not ours to touch.
          if (record['connector'] !== dead || !record['sid'] || !isPlatform(record['platform'])) continue;
          const namespace = record['namespace']!;
          const rooms = [userRoom(record['userid']!), ...(await this.clients.memberRooms(clientId))];
          const client = { clientId, userid: record['userid']!, platform: record['platform'] };
          for (const room of rooms) await this.rooms.offline(namespace, room, client, record['sid']);
          await this.clients.disconnected(clientId, { namespace, userid: record['userid']!, sid: record['sid'], connector: dead }, 'connector lost');
          count++;
        }
      }
      await this.registry.forget(dead);
      this.logger.warn({ connector: dead, clients: count }, 'reaped a dead connector');
      reaped++;
    }
    return reaped;
  }

  /** Stops beating and leaves the registry: a stopped connector is not dead, it is gone. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.registry.forget(this.connectorId);
  }
}
