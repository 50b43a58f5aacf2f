import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { RoomsyncKeys } from './roomsync-keys';
import { scriptCommand } from './scripts';

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A user token as seed 000 HEAD made them (24 alphanumerics), from a cryptographic source. */
export function roomsyncToken(): string {
  let token = '';
  for (let i = 0; i < 24; i++) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return token;
}

/**
 * A token's digest as stored. Tokens are 24 random alphanumerics (~143 bits): a fast digest is
 * enough, and authentication (30 a minute per uid) does not pay scrypt's cost.
 */
function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

type Call = (...a: (string | number)[]) => Promise<number>;

/**
 * User tokens and the authentication rate limit of a roomsync namespace (seed 000: MongoDB `user
 * {uid, token}` and a Redis hash). Tokens are stored as digests, never in clear.
 */
export class RoomsyncAccounts {
  private readonly rk: RoomsyncKeys;
  private readonly call: Call;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
  ) {
    this.rk = new RoomsyncKeys(keys);
    this.call = scriptCommand(redis, 'roomsyncAccount') as Call;
  }

  /** A new user's token; undefined when the uid already has one (seed code 2). */
  async create(nsp: string, uid: string): Promise<string | undefined> {
    const token = roomsyncToken();
    return (await this.call(this.rk.tokens(nsp), 'create', uid, digest(token))) === 1 ? token : undefined;
  }

  /** A new token replacing the user's; undefined when the uid has none (seed code 6). */
  async refresh(nsp: string, uid: string): Promise<string | undefined> {
    const token = roomsyncToken();
    return (await this.call(this.rk.tokens(nsp), 'refresh', uid, digest(token))) === 1 ? token : undefined;
  }

  /** Whether `token` is the uid's current token (constant-time comparison of the digests). */
  async verify(nsp: string, uid: string, token: string): Promise<boolean> {
    const stored = await this.redis.hget(this.rk.tokens(nsp), uid);
    if (!stored) return false;
    const a = Buffer.from(stored, 'hex');
    const b = Buffer.from(digest(token), 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Counts one authentication of the uid; false when it is over `limit` in the current window. */
  async allow(nsp: string, uid: string, limit: number, windowMs = 60_000): Promise<boolean> {
    return (await this.call(this.rk.authCount(nsp, uid), 'limit', windowMs, limit)) === 1;
  }
}
