import { SERVED_PROTOCOLS, type ProtocolName } from '@herald/wire';
import type { Protocol } from '../core/protocol';
import { pushProtocol } from './push';
import { webserviceProtocol } from './webservice';
import { roomsyncProtocol } from './roomsync';
import { sessionsProtocol } from './sessions';
import { chatProtocol } from './chat';

/**
 * The protocols a connector serves, by name. Adding a protocol: one folder under protocols/ that
 * exports a `Protocol`, listed here and in SERVED_PROTOCOLS (`@herald/wire`), which logic uses
 * to validate a namespace's `protocol` (docs/architecture.md).
 */
export class ProtocolRegistry {
  private readonly byName: ReadonlyMap<string, Protocol>;

  constructor(protocols: readonly Protocol[]) {
    this.byName = new Map(protocols.map((p) => [p.name, p]));
  }

  get(name: string): Protocol | undefined {
    return this.byName.get(name);
  }

  names(): ProtocolName[] {
    return [...this.byName.keys()] as ProtocolName[];
  }
}

/** Every protocol module Herald has: exactly the served ones. */
export const ALL_PROTOCOLS: readonly Protocol[] = Object.freeze([pushProtocol, webserviceProtocol, roomsyncProtocol, sessionsProtocol, chatProtocol]);

/** The registry of a connector serving every protocol Herald has. */
export function defaultRegistry(only?: readonly string[] | null): ProtocolRegistry {
  const registry = new ProtocolRegistry(ALL_PROTOCOLS);
  const missing = SERVED_PROTOCOLS.filter((name) => !registry.get(name));
  if (missing.length > 0) throw new Error(`served protocols without a module: ${missing.join(', ')}`);
  // HERALD_PROTOCOLS: a connector dedicated to some protocols refuses the others' handshakes.
  return only ? new ProtocolRegistry(ALL_PROTOCOLS.filter((protocol) => only.includes(protocol.name))) : registry;
}
