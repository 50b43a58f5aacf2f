import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import type { TestSocket } from './clients';
import { startStack, type Stack } from './stack';

/** A one-connector stack for a report-path test, the test's own Redis connection, and its sockets. */
export interface ReportStack {
  readonly stack: Stack;
  readonly redis: Redis;
  /** Closed after the file's tests, before the stack stops. */
  readonly sockets: TestSocket[];
}

/**
 * Starts one logic and one connector with `env` before the file's tests and stops them after
 * (every service must exit 0). Read the fields inside a test, once `beforeAll` has run.
 */
export function useReportStack(env: Record<string, string>): ReportStack {
  let stack: Stack | undefined;
  let redis: Redis | undefined;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    stack = await startStack({ connectors: 1, env });
    redis = new Redis(stack.redis.url);
  }, 60_000);
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    redis?.disconnect();
    const codes = await stack?.stop();
    expect(codes).toEqual([0, 0]);
  });
  return {
    get stack() {
      return stack!;
    },
    get redis() {
      return redis!;
    },
    sockets,
  };
}

const keys = new Keys('h:');

/** `[ackCount, onlineClientCount]` of each message of `namespace`, in the order of `ids`. */
export async function reportCounts(redis: Redis, namespace: string, ids: readonly number[]): Promise<number[][]> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.message(namespace, id), 'ackCount', 'onlineClientCount');
  return ((await pipeline.exec()) ?? []).map(([, v]) => (v as (string | null)[]).map((x) => Number(x ?? 0)));
}
