import { Decoder, Encoder, type Packet } from 'socket.io-parser';
import type { Server } from 'socket.io';
import { dirname, join } from 'node:path';

/**
 * socket.io's `Client` (one per transport connection). The package exports no subpath, so it is
 * loaded from beside the entry point; its shape is stable across socket.io 4.
 */
type ClientClass = new (server: Server, conn: unknown) => { connect(name: string): void };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Client = (require(join(dirname(require.resolve('socket.io')), 'client.js')) as { Client: ClientClass }).Client;

/**
 * A socket.io path that sends root-namespace clients to one namespace (HERALD_SOCKET_PATHS
 * `PATH=/NAMESPACE`): seed clients of 000, 003 and 004 connect to `/` on `/socket`, `/wechat` or
 * `/socket.io` and are served as clients of `/NAMESPACE`.
 *
 * The connector runs one socket.io server per path on one HTTP server. The server of a mapped path
 * gets a parser (socket.io's documented `parser` option) that swaps the namespace of every packet,
 * `/` ↔ `/NAMESPACE`, in both directions: the client speaks of `/`, while the core, the handshake
 * and the Redis adapter only ever see the real namespace — so pushes, presence, eviction and
 * reports work as for any client of it. (The namespace itself, asked for by name on such a path,
 * becomes the root namespace, which serves nothing.)
 */
function swap(packet: Packet, namespace: string): Packet {
  if (packet.nsp === '/') return { ...packet, nsp: namespace };
  if (packet.nsp === namespace) return { ...packet, nsp: '/' };
  return packet;
}

/** The socket.io parser of a path mapped to `namespace`. */
export function mappedParser(namespace: string): { Encoder: typeof Encoder; Decoder: typeof Decoder } {
  class MappedEncoder extends Encoder {
    override encode(packet: Packet): ReturnType<Encoder['encode']> {
      return super.encode(swap(packet, namespace));
    }
  }
  class MappedDecoder extends Decoder {
    // socket.io's Client listens to `decoded` (Decoder#add emits through the base class, so the
    // listener, not the emit, is where a packet can be rewritten).
    override on(event: string, listener: (...args: any[]) => void): this {
      if (event !== 'decoded') return super.on(event as 'decoded', listener);
      return super.on('decoded', (packet: Packet) => listener(swap(packet, namespace)));
    }
  }
  return { Encoder: MappedEncoder, Decoder: MappedDecoder };
}

/**
 * socket.io v2 clients (Engine.IO 3) send no CONNECT packet for `/`: socket.io connects them to it
 * on the transport connection (Server#onconnection), past the parser. On a mapped path they are
 * connected to the namespace instead. Call before `attach`, which binds `onconnection`.
 */
export function connectEio3To(io: Server, namespace: string): void {
  const server = io as unknown as { onconnection(conn: { protocol: number }): unknown };
  const original = server.onconnection;
  server.onconnection = function (this: Server, conn: { protocol: number }) {
    if (conn.protocol !== 3) return original.call(this, conn);
    new Client(this, conn).connect(namespace);
    return this;
  };
}
