import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a redis-server that can lose one reply with its connection: the command
 * reaches Redis and runs, its reply never reaches the service, and the connection then drops — what
 * a network cut right after Redis ran a command looks like to ioredis.
 */
export interface ReplySwallowingProxy {
  /** The port services connect to instead of Redis'. */
  readonly port: number;
  /** How many replies were swallowed so far. */
  readonly swallowed: number;
  /**
   * The next service → Redis chunk that contains `marker` is passed on; from then on nothing Redis
   * sends on that connection reaches the service, and 100 ms later both sides are closed.
   */
  swallowNext(marker: string): void;
  close(): Promise<void>;
}

export async function startReplySwallowingProxy(target: number): Promise<ReplySwallowingProxy> {
  let armed: string | undefined;
  let swallowed = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    let mute = false;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk) => {
      upstream.write(chunk);
      if (armed !== undefined && chunk.includes(armed)) {
        armed = undefined;
        swallowed++;
        // Redis gets the command and runs it; its reply never reaches the service.
        mute = true;
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, 100);
      }
    });
    upstream.on('data', (chunk) => {
      if (!mute) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await new Promise<number>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as { port: number }).port)));
  return {
    port,
    get swallowed() {
      return swallowed;
    },
    swallowNext(marker) {
      armed = marker;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
