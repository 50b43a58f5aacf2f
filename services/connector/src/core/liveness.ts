import type { Logger } from '@herald/log';
import type { ClientStore, ConnectorClaim, ConnectorRegistry, RoomStore } from '@herald/store';
import { isPlatform, userRoom } from '@herald/wire';

/** Beats a connector may miss before it is dead (docs/reliability.md, "Heartbeat and reaper"). */
export const SILENT_BEATS = 3;

/** A client whose connector died, as its record named it when the reaper marked it offline. */
export interface ReapedClient {
  readonly clientId: string;
  readonly namespace: string;
  readonly userid: string;
  /** The device. */
  readonly uuid: string;
  /** The connection (socket id) that ended with the connector. */
  readonly sid: string;
}

/**
 * Heartbeat and reaper (docs/reliability.md, "Heartbeat and reaper"). A connector killed with
 * SIGKILL (or whose host vanished) cannot mark its clients offline; every connector beats every
 * `intervalMs` (timed by the Redis clock), and claims connectors silent for three intervals. The
 * claim is a lease: the reaper marks each client offline in every room (unless the client has since
 * connected elsewhere), renewing the lease page by page, and forgets the connector only when done.
 *
 * Beats run on their own timer, never behind a clean-up (a long reap must not make the reaper
 * itself look dead). A connector whose loop stalled past the threshold is dead by definition; when
 * it wakes up, its next beat tells it a reaper claimed it, and it drops its sockets (`onLost`) so
 * that its clients reconnect and are registered again, instead of staying connected but offline.
 */
export class Liveness {
  private beatTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private reaping: Promise<void> | undefined;
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
    /** Called when a reaper claimed this connector while it was alive (its loop stalled). */
    private readonly onLost: () => void = () => undefined,
    /** Called for each client of a dead connector once it is marked offline (its protocol's own clean-up). */
    private readonly onReaped: (client: ReapedClient) => Promise<void> = async () => undefined,
    /** Called once per dead connector after its clients, before it is forgotten (the protocols' clean-up of its other connections). */
    private readonly onConnectorReaped: (connectorId: string) => Promise<void> = async () => undefined,
  ) {}

  /** How long a claim lasts without renewal; a reaper renews it after every page of clients. */
  private get leaseMs(): number {
    return SILENT_BEATS * this.intervalMs;
  }

  async start(): Promise<void> {
    await this.registry.beat(this.connectorId);
    this.beatTimer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, this.intervalMs);
    this.reapTimer = setInterval(() => {
      if (Date.now() - this.healthySince < SILENT_BEATS * this.intervalMs) return;
      this.reaping ??= this.reapAll()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'reaping failed'))
        .finally(() => (this.reaping = undefined));
    }, this.intervalMs);
  }

  private async beat(): Promise<void> {
    let lost: boolean;
    try {
      lost = (await this.registry.beat(this.connectorId, true)).lost;
    } catch (error) {
      this.healthySince = Number.POSITIVE_INFINITY;
      this.logger.warn({ err: (error as Error).message }, 'heartbeat failed');
      return;
    }
    if (this.healthySince === Number.POSITIVE_INFINITY) this.healthySince = Date.now();
    if (lost) {
      this.logger.warn({ connector: this.connectorId }, 'this connector was reaped while alive (stalled past the heartbeat threshold): dropping its sockets');
      this.onLost();
    }
  }

  /** Claims and cleans up every silent connector, one at a time; resolves with how many. */
  async reapAll(): Promise<number> {
    let reaped = 0;
    for (;;) {
      const claim = await this.registry.claim(this.connectorId, SILENT_BEATS * this.intervalMs, this.leaseMs);
      if (!claim) return reaped;
      if (await this.reap(claim)) reaped++;
    }
  }

  /** Marks each client of a claimed connector offline, then forgets it; false when the claim was lost. */
  private async reap(first: ConnectorClaim): Promise<boolean> {
    const dead = first.connectorId;
    let claim: ConnectorClaim | null = first;
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
        // A protocol's own state of the connection (e.g. webservice devices) is the protocol's: a
        // failure there is logged, the core's clean-up stands.
        await this.onReaped({ clientId, namespace, userid: record['userid']!, uuid: record['uuid'] ?? '', sid: record['sid'] }).catch((error: unknown) =>
          this.logger.warn({ err: (error as Error).message, clientId }, 'protocol clean-up of a reaped client failed'),
        );
        count++;
      }
      claim = await this.registry.renew(claim, this.leaseMs);
      if (!claim) break;
    }
    if (claim) {
      await this.onConnectorReaped(dead).catch((error: unknown) =>
        this.logger.warn({ err: (error as Error).message, connector: dead }, 'protocol clean-up of a reaped connector failed'),
      );
    }
    if (!claim || !(await this.registry.release(claim, this.leaseMs))) {
      // It beat again (it was alive: it drops its sockets itself) or the lease ran out and another
      // reaper took over; either way the rest is not ours.
      this.logger.warn({ connector: dead, clients: count }, 'gave up reaping a connector: claim lost');
      return false;
    }
    this.logger.warn({ connector: dead, clients: count }, 'reaped a dead connector');
    return true;
  }

  /** Stops beating and leaves the registry: a stopped connector is not dead, it is gone. */
  async stop(): Promise<void> {
    if (this.beatTimer) clearInterval(this.beatTimer);
    if (this.reapTimer) clearInterval(this.reapTimer);
    await Promise.all([this.beating, this.reaping]);
    await this.registry.forget(this.connectorId);
  }
}
