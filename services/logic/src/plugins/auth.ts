import { hash, timingSafeEqual } from 'node:crypto';
import { Errors, HeraldError } from '@herald/wire';
import { verifyPassword, type Keys, type NamespaceSettings, type NamespaceStore, type RedisClient } from '@herald/store';
import type { FastifyRequest } from 'fastify';

/** `Basic <base64>` or the bare base64 (the seed admin SPA sends it without the prefix). */
export function parseBasic(header: string | undefined): { user: string; password: string } {
  if (header === undefined || header.trim() === '') throw new HeraldError(Errors.NEED_AUTHORIZATION);
  const encoded = header.replace(/^\s*basic\s+/i, '').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new HeraldError(Errors.NEED_AUTHORIZATION, 'malformed Basic credentials');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  // The user is everything before the first ':'; the password keeps any later ':' (the seed cut it).
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new HeraldError(Errors.NEED_AUTHORIZATION, 'malformed Basic credentials');
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/** Constant-time equality of two strings of any length (compares their SHA-256 digests). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Checks namespace credentials. scrypt is slow on purpose, and a busy third-party server sends the
 * same credentials with every push, so successful checks are remembered per namespace, password
 * digest and namespace version: a password change (or any save) makes them void.
 */
export class NamespaceAuth {
  private readonly verified = new Map<string, number>();
  private static readonly CACHE_LIMIT = 10_000;

  constructor(private readonly namespaces: NamespaceStore) {}

  /**
   * @param beforeSlowPath runs before anything but a remembered success: before a refusal and before
   * scrypt (the failed-authentication limit, when the route checks it later for remembered successes).
   */
  async authenticate(request: FastifyRequest, beforeSlowPath: () => Promise<void> = async () => undefined): Promise<NamespaceSettings> {
    let credentials: { user: string; password: string };
    try {
      credentials = parseBasic(request.headers.authorization);
    } catch (error) {
      await beforeSlowPath();
      throw error;
    }
    const { user, password } = credentials;
    const record = await this.namespaces.settings(user);
    const cacheKey = record ? `${record.key}\u0000${hash('sha256', password, 'base64')}` : '';
    if (record?.passwordHash && this.verified.get(cacheKey) === record.updateDate) return record;
    await beforeSlowPath();
    if (!record) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
    if (!record.passwordHash) throw new HeraldError(Errors.PASSWD_ERROR);
    if (!(await verifyPassword(password, record.passwordHash))) throw new HeraldError(Errors.PASSWD_ERROR);
    if (this.verified.size >= NamespaceAuth.CACHE_LIMIT) this.verified.clear();
    this.verified.set(cacheKey, record.updateDate);
    return record;
  }
}

/** Checks the operator credentials of `/api/admin/*`. */
export function authenticateAdmin(request: FastifyRequest, name: string, password: string): void {
  const credentials = parseBasic(request.headers.authorization);
  const userOk = safeEqual(credentials.user, name);
  const passwordOk = safeEqual(credentials.password, password);
  if (!(userOk && passwordOk)) throw new HeraldError(Errors.AUTH_ERROR);
}

/** Failed authentications allowed per client address and window, across every logic process. */
export const AUTH_FAILURE_LIMIT = 20;
export const AUTH_FAILURE_WINDOW_S = 60;

/**
 * Rate limit of failed Basic authentications per client address, kept in Redis so that every logic
 * process behind the load balancer shares it: past the limit, further attempts get 429 without
 * their credentials being checked, until the window ends. Successful requests are never limited
 * by someone else's failures from another address.
 */
export class AuthFailures {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Throws 429 when the address is over the limit. */
  async check(address: string): Promise<void> {
    const count = Number((await this.redis.get(this.keys.authFailures(address))) ?? 0);
    if (count >= AUTH_FAILURE_LIMIT) throw new HeraldError(Errors.TOO_MANY_ATTEMPTS);
  }

  async record(address: string): Promise<void> {
    const key = this.keys.authFailures(address);
    // SET NX starts the window with the first failure; INCR counts (one slot: a single key).
    await this.redis.multi().set(key, 0, 'EX', AUTH_FAILURE_WINDOW_S, 'NX').incr(key).exec();
  }

  /**
   * The counter and limit of an address, for a route that checks the limit in its own Redis call
   * (the push routes: in the store script, docs/decisions.md "One round trip per push").
   */
  limitFor(address: string): { key: string; limit: number } {
    return { key: this.keys.authFailures(address), limit: AUTH_FAILURE_LIMIT };
  }

  /**
   * Runs an authentication, counting it when it fails. The limit is checked first; with
   * `checkInRoute`, only before a slow or failing path (`authenticate` calls the function it gets
   * there): a remembered success goes on to the route, which checks the limit with its own command.
   */
  async guard<T>(address: string, authenticate: (beforeSlowPath: () => Promise<void>) => Promise<T> | T, checkInRoute = false): Promise<T> {
    const check = () => this.check(address);
    if (!checkInRoute) await check();
    try {
      return await authenticate(checkInRoute ? check : async () => undefined);
    } catch (error) {
      if (error instanceof HeraldError && error.entry !== Errors.TOO_MANY_ATTEMPTS) await this.record(address);
      throw error;
    }
  }
}
