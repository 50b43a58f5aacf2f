import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { Scripts } from './scripts';

/** A reaper's hold on a dead connector: the lease end (ms, Redis clock, ending in .5) is its token. */
export interface ConnectorClaim {
  readonly connectorId: string;
  readonly lease: string;
}

/** What a beat learnt. */
export interface Beat {
  /** The score written (ms, Redis clock). */
  readonly at: number;
  /** A reaper claimed or forgot this connector since its previous beat. */
  readonly lost: boolean;
}

/**
 * Which connectors are alive (docs/reliability.md, "Heartbeat and reaper"). Each connector beats
 * every few seconds; a connector whose last beat is too old by the Redis clock is dead (SIGKILL,
 * host lost, a loop stalled past the threshold), and a reaper claims it with a lease, cleans up
 * what it left (its clients must not stay "online" for ever), and only then forgets it. A reaper
 * that dies half-way lets its lease run out, and the connector is claimable again.
 */
export class ConnectorRegistry {
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    this.scripts = new Scripts(redis);
  }

  /** Writes a beat with the Redis time; `beatBefore`: not the connector's first beat. */
  async beat(connectorId: string, beatBefore = false): Promise<Beat> {
    const [at, lost] = await this.scripts.connectorBeat(this.keys.connectors(), connectorId, beatBefore);
    return { at: Number(at), lost: lost === 1 };
  }

  /** Claims one connector silent for `silentMs` (never `self`) for `leaseMs`; null when none is. */
  async claim(self: string, silentMs: number, leaseMs: number): Promise<ConnectorClaim | null> {
    const claimed = await this.scripts.connectorClaim(this.keys.connectors(), silentMs, leaseMs, self);
    return claimed ? { connectorId: claimed[0], lease: claimed[1] } : null;
  }

  /** Extends a claim; null when it is not held any more (the connector beat again, or another reaper took it). */
  async renew(claim: ConnectorClaim, leaseMs: number): Promise<ConnectorClaim | null> {
    const lease = await this.scripts.connectorLease(this.keys.connectors(), claim.connectorId, claim.lease, 'renew', leaseMs);
    return lease === 0 ? null : { connectorId: claim.connectorId, lease: String(lease) };
  }

  /**
   * The clean-up of a claimed connector is done: its client list goes, then its registry entry —
   * only while the claim is held. Dying between the two leaves an entry whose lease runs out and
   * whose next clean-up finds no clients.
   */
  async release(claim: ConnectorClaim, leaseMs: number): Promise<boolean> {
    const held = await this.renew(claim, leaseMs);
    if (!held) return false;
    await this.redis.del(this.keys.connectorClients(claim.connectorId));
    return (await this.scripts.connectorLease(this.keys.connectors(), held.connectorId, held.lease, 'release')) === 1;
  }

  /** Pages through the clients a connector had, `count` at a time. */
  async *clients(connectorId: string, count = 500): AsyncGenerator<string[]> {
    const key = this.keys.connectorClients(connectorId);
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(key, cursor, 'COUNT', count);
      cursor = next;
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  /** A connector that stops leaves the registry (a stopped connector is not dead, it is gone). */
  async forget(connectorId: string): Promise<void> {
    await this.redis.del(this.keys.connectorClients(connectorId));
    await this.redis.zrem(this.keys.connectors(), connectorId);
  }
}
