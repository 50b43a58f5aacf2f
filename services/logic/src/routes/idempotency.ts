import { createHash } from 'node:crypto';
import { Errors, HeraldError } from '@herald/wire';
import type { FastifyRequest } from 'fastify';

/** 1 to 255 visible ASCII characters: a UUID, a ULID, a hash, an order number… (no space, no control). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** Objects with their keys sorted, so that the digest does not depend on the order a client wrote them. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
  return out;
}

/** SHA-256 of the canonical JSON of a request body (base64, no padding). */
export function bodyDigest(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(body)) ?? '').digest('base64').replace(/=+$/, '');
}

/**
 * The request's `Idempotency-Key` for the push store, or undefined when it has none.
 * @throws IDEMPOTENCY_KEY_INVALID for an empty, too long or badly formed key (also a repeated header,
 * which Node joins with ", ").
 */
export function idempotencyOf(request: FastifyRequest, ttlS: number): { key: string; digest: string; ttlS: number } | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY.test(header)) throw new HeraldError(Errors.IDEMPOTENCY_KEY_INVALID);
  return { key: header, digest: bodyDigest(request.body), ttlS };
}
