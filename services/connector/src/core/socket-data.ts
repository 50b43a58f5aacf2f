import type { ClientToServerEvents, InterServerEvents, Platform, ServerToClientEvents } from '@herald/wire';
import type { DisconnectReason } from '@herald/store';
import type { Namespace, Server, Socket } from 'socket.io';
import type { Protocol } from './protocol';

/**
 * Who a socket is, fixed at the handshake by its protocol (socket.io `socket.data`): the client id
 * (the key of its record), its user (`userid`), its platform and its device (`uuid`).
 */
export interface Identity {
  readonly namespace: string;
  /** The device. */
  readonly uuid: string;
  readonly userid: string;
  readonly platform: Platform;
  readonly clientId: string;
  /** The client asked for presence announcements about itself. */
  readonly activityBroadcast: boolean;
}

export interface SocketData {
  /** The wire protocol of the socket's namespace, chosen at the handshake. */
  protocol: Protocol;
  identity: Identity;
  /**
   * The socket has no client identity yet (or no more): admitted anonymous by a protocol whose
   * clients authenticate after connecting (core/identify.ts). It has no client record and no rooms
   * but its own client room (`identity` is then `admitted`).
   */
  anonymous: boolean;
  /** The identity the handshake gave (for an anonymous socket, a per-socket one). */
  admitted: Identity;
  /** Message ids the inbox replay offered this socket (their acks count: acks.ts). */
  offered: Set<number>;
  /** Rooms (Herald names, not adapter rooms) this socket is in, user room included. */
  rooms: Set<string>;
  /** Rooms the connect callback named, joined on connect. */
  callbackRooms: readonly string[];
  /** Whether the namespace had a disconnect callback at the handshake. */
  disconnectCallback: boolean;
  /** Why the server ended the connection, when it did (otherwise: network). */
  disconnectReason?: DisconnectReason;
  /** When this socket last pushed (client `push`), for the rate limit. */
  lastPushAt: number;
}

/**
 * Names of adapter rooms. Herald's rooms and clients live in the socket.io adapter under prefixes
 * containing ':', which no client-chosen name can contain (names.ts) and socket ids never do, so a
 * room name can never collide with a socket id or another client's private room.
 */
export const adapterRoom = (room: string): string => `r:${room}`;
export const clientRoom = (clientId: string): string => `c:${clientId}`;


export type HeraldServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type HeraldNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type HeraldSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
