import type { Platform } from './names';

/**
 * The wire protocols a namespace may choose (`protocol` of its record; DESIGN.md "Protocols on one
 * core"). Only the served ones may be saved: a name is added here when its module exists under
 * services/connector/src/protocols/ (the connector's registry checks the two lists agree).
 */
export const PROTOCOL_NAMES = ['push', 'webservice', 'sessions', 'roomsync', 'chat'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

/** Protocols Herald serves today. */
export const SERVED_PROTOCOLS: readonly ProtocolName[] = Object.freeze(['push', 'webservice', 'roomsync', 'sessions', 'chat']);

/** The protocol of a namespace record that names none (every record saved before the field existed). */
export const DEFAULT_PROTOCOL: ProtocolName = 'push';

export function isServedProtocol(value: unknown): value is ProtocolName {
  return typeof value === 'string' && (SERVED_PROTOCOLS as readonly string[]).includes(value);
}

/**
 * What the worker's offline step does for a protocol's clients that missed a message: which
 * platforms get an inbox entry unless the namespace chooses (`inbox_platforms`), and which are woken
 * through APNs.
 */
export interface OfflinePolicy {
  readonly inboxPlatforms: readonly Platform[];
  readonly apnsPlatforms: readonly Platform[];
}

/** One offline policy per served protocol (the worker reads it by the namespace's protocol). */
export const OFFLINE_POLICIES: Readonly<Record<ProtocolName, OfflinePolicy | undefined>> = Object.freeze({
  // Seed 002: Android clients read their inbox on the next connect, iOS devices get APNs.
  push: Object.freeze({ inboxPlatforms: Object.freeze(['android'] as Platform[]), apnsPlatforms: Object.freeze(['ios'] as Platform[]) }),
  // Seed 001 keeps messages in its own per-device queues (protocols/webservice), not in inboxes or APNs.
  webservice: Object.freeze({ inboxPlatforms: Object.freeze([] as Platform[]), apnsPlatforms: Object.freeze([] as Platform[]) }),
  // Seed 003: notifications are live only (pub/sub), delivered by the connectors; nothing offline.
  sessions: Object.freeze({ inboxPlatforms: Object.freeze([] as Platform[]), apnsPlatforms: Object.freeze([] as Platform[]) }),
  // Seed 000: clients are web sockets that `sync` the room's history when back; nothing offline.
  roomsync: Object.freeze({ inboxPlatforms: Object.freeze([] as Platform[]), apnsPlatforms: Object.freeze([] as Platform[]) }),
  // Seed 004: offline chat users get the message from their inbox on `logIn` (the connector adds it
  // when the message is sent, so the offline step adds none), registered iOS devices get APNs.
  chat: Object.freeze({ inboxPlatforms: Object.freeze([] as Platform[]), apnsPlatforms: Object.freeze(['ios'] as Platform[]) }),
});

/** The offline policy of a stored `protocol` value; an unset or unknown value is the default protocol's. */
export function offlinePolicyOf(protocol: string | null | undefined): OfflinePolicy {
  const name = (PROTOCOL_NAMES as readonly string[]).includes(protocol ?? '') ? (protocol as ProtocolName) : DEFAULT_PROTOCOL;
  return OFFLINE_POLICIES[name] ?? OFFLINE_POLICIES[DEFAULT_PROTOCOL]!;
}
