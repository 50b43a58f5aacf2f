import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Namespace passwords are stored as salted scrypt hashes (RFC 7914), never in clear:
 * `scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>`. N = 2^14, r = 8, p = 1 is the
 * interactive-login cost recommended in RFC 7914 §2 and by OWASP; a push server checks the same
 * password for every request, so callers cache successful checks (see PasswordCache).
 */
const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Constant-time check of a password against a stored hash; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A protocol's API keys (PROTOCOL_SETTINGS `hashed` fields) are checked on every request of a seed
 * server, so they are stored as `sha256$<hex>`, not scrypt: a key is chosen by the operator as a
 * long random string, for which a fast hash is enough and a slow one would cost every request
 * (docs/api.md "Protocol settings").
 */
export function hashSecret(secret: string): string {
  return `sha256$${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

/** Constant-time check of a secret against `hashSecret`'s output; false for a malformed hash. */
export function verifySecret(secret: string, stored: string | undefined): boolean {
  if (!stored?.startsWith('sha256$')) return false;
  const expected = Buffer.from(stored.slice(7), 'hex');
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}
