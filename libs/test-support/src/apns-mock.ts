import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  constants,
  createSecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { sharedTestCa, type TestCa } from './test-ca';

/*
 * An APNs provider API double: Apple's HTTP/2 protocol over TLS, for tests and benchmarks.
 * Apple's references: "Sending notification requests to APNs" (headers, payload sizes),
 * "Establishing a token-based connection to APNs" (ES256 provider token, one hour lifetime) and
 * "Handling notification responses from APNs" (statuses, reasons, GOAWAY with a JSON reason).
 */

/** What the mock does with a request that passed verification. Non-200 bodies are `{"reason": …}`. */
export type ApnsBehaviour =
  /** Accepted: `:status 200`, `apns-id`, no body. */
  | { readonly status: 200 }
  /** The token is no longer valid: body `{reason, timestamp}` (ms since the epoch, Apple's unit). */
  | { readonly status: 410; readonly reason: 'Unregistered' | 'ExpiredToken'; readonly timestamp: number }
  /** Too many requests for this token; `retryAfter` (seconds) becomes a `retry-after` header. */
  | { readonly status: 429; readonly reason: 'TooManyRequests'; readonly retryAfter?: number }
  /** Any other answer Apple documents, e.g. `{ status: 400, reason: 'BadDeviceToken' }`. */
  | { readonly status: 400 | 403 | 404 | 405 | 413 | 500 | 503; readonly reason: string }
  /**
   * HTTP/2 GOAWAY (RFC 9113 §6.8) with Apple's JSON `{reason}` as debug data, then the stream is
   * reset without an answer and the connection closes once its other streams are done. The
   * last-stream-id is below this stream's, so this request (and any opened after it on that
   * connection) counts as unprocessed: safe to retry.
   */
  | { readonly kind: 'goaway'; /** @default 'Shutdown' */ readonly reason?: string; /** @default NGHTTP2_NO_ERROR */ readonly code?: number }
  /** No answer at all; the stream stays open until the client gives up or `close()`. */
  | { readonly kind: 'hang' }
  /** RST_STREAM without an answer. */
  | { readonly kind: 'reset'; /** @default NGHTTP2_INTERNAL_ERROR */ readonly code?: number };

/** One request as the mock saw it. The provider token itself is never stored. */
export interface ApnsRequest {
  /** The device token from `:path` (`''` when missing). */
  readonly token: string;
  readonly method: string;
  readonly path: string;
  /** The `apns-*` request headers, names lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** How the request authenticated: an `authorization` header, else a client certificate, else none. */
  readonly auth: 'token' | 'certificate' | 'none';
  /** Whether an `authorization: bearer …` header was sent. */
  readonly hasProviderToken: boolean;
  /** The provider token's `kid`, `iss` and `iat` as sent (also when its verification failed). */
  readonly providerToken?: { readonly kid?: string; readonly iss?: string; readonly iat?: number };
  /** Subject of the client certificate, e.g. `UID=com.herald.test, CN=Apple Push Services: com.herald.test`. */
  readonly clientCertSubject?: string;
  /** The parsed JSON body; undefined when empty, too large or not JSON. */
  readonly payload: unknown;
  readonly payloadBytes: number;
  /** The answer's status; undefined for goaway, hang and reset. */
  readonly status?: number;
  readonly reason?: string;
  readonly outcome: 'answered' | 'goaway' | 'hang' | 'reset';
  /** The `apns-id` answered (the request's, or a new UUID as APNs does). */
  readonly apnsId: string;
  /** When the request's headers arrived (ms since the epoch). */
  readonly at: number;
}

/** An ES256 signing key as Apple issues it (a PKCS#8 `.p8`), shaped like node-apn's `token` option. */
export interface ApnsProviderKey {
  readonly keyId: string;
  readonly teamId: string;
  /** PKCS#8 PEM private key. */
  readonly key: string;
  /** SPKI PEM public key, what the mock's `keys` option takes. */
  readonly publicKeyPem: string;
}

export interface ApnsMockOptions {
  /** The `iss` a provider token must carry. @default 'HERALDTEAM' */
  readonly teamId?: string;
  /**
   * Accepted provider token keys: key id → ES256 public key (SPKI PEM).
   * @default one generated key, exposed as {@link ApnsMock.providerKey}
   */
  readonly keys?: Readonly<Record<string, string>>;
  /**
   * Accepted `apns-topic` bundle ids (each also with Apple's push-type suffixes such as `.voip`);
   * another topic gets 400 TopicDisallowed. @default any topic
   */
  readonly topics?: readonly string[];
  /** Delay before every answer (simulated round trip), in ms. @default 0 */
  readonly latencyMs?: number;
  /** CA that issues the server certificate. @default sharedTestCa() */
  readonly ca?: TestCa;
  /** CA certificates (PEM) trusted for client certificates. @default the `ca` certificate */
  readonly clientCa?: string | readonly string[];
  /** Loopback port to listen on, e.g. one a worker could not reach before. @default a free port */
  readonly port?: number;
}

export interface ApnsMock {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** PEM of the CA that signed the server certificate (node-apn's `ca` option). */
  readonly caPem: string;
  /** The same CA written to a file (`HERALD_APNS_CA`); removed by close(). */
  readonly caFile: string;
  readonly teamId: string;
  /** The generated key when `keys` was not given, else undefined. */
  readonly providerKey: ApnsProviderKey | undefined;
  /** Every request so far, in arrival order. */
  readonly requests: readonly ApnsRequest[];
  /** Queues behaviours for a device token, one per verified request; then the default applies. */
  script(token: string, ...behaviours: ApnsBehaviour[]): void;
  /** The behaviour for tokens with nothing queued. @default { status: 200 } */
  setDefault(behaviour: ApnsBehaviour): void;
  /** Resolves with `requests` once it holds at least `count` entries. @default timeoutMs 5000 */
  waitForRequests(count: number, timeoutMs?: number): Promise<readonly ApnsRequest[]>;
  /** Forgets requests and scripts, and restores the default behaviour. */
  reset(): void;
  /** Destroys every connection (hung streams too), closes the server and removes `caFile`. */
  close(): Promise<void>;
}

/** Apple: 4 KB for regular notifications, 5 KB for VoIP. */
const MAX_PAYLOAD = 4096;
const MAX_VOIP_PAYLOAD = 5120;
/** Apple: "APNs doesn't accept provider tokens older than one hour" (403 ExpiredProviderToken). */
const TOKEN_LIFETIME_S = 3600;
/** Mock's tolerance for an `iat` in the future; catches a token stamped in ms instead of s. */
const TOKEN_CLOCK_SKEW_S = 60;
const PUSH_TYPES = new Set(['alert', 'background', 'controls', 'location', 'voip', 'complication', 'fileprovider', 'mdm', 'liveactivity', 'pushtotalk', 'widgets']);
const TOPIC_SUFFIXES = ['', '.voip', '.complication', '.pushkit.fileprovider', '.push-type.liveactivity', '.voip-ptt', '.location-query', '.push-type.widgets'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A new ES256 key pair with a random 10-character key id, as Apple's developer portal hands out. */
export function createProviderKey(teamId = 'HERALDTEAM', keyId = randomBytes(5).toString('hex').toUpperCase()): ApnsProviderKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { keyId, teamId, key: privateKey, publicKeyPem: publicKey };
}

interface Rejection {
  readonly status: number;
  readonly reason: string;
}

interface Peer {
  readonly authorized: boolean;
  readonly subject?: string;
}

interface DecodedToken {
  readonly claims?: { kid?: string; iss?: string; iat?: number };
  readonly rejection?: Rejection;
}

const reject = (status: number, reason: string): Rejection => ({ status, reason });

function decodePart(part: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Apple's checks on a provider token, signature before claims: the claims are not trusted before. */
function checkProviderToken(jwt: string, keys: ReadonlyMap<string, KeyObject>, teamId: string): DecodedToken {
  const parts = jwt.split('.');
  const header = decodePart(parts[0]);
  const body = decodePart(parts[1]);
  if (parts.length !== 3 || !header || !body) return { rejection: reject(403, 'InvalidProviderToken') };
  const claims = {
    ...(typeof header['kid'] === 'string' ? { kid: header['kid'] } : {}),
    ...(typeof body['iss'] === 'string' ? { iss: body['iss'] } : {}),
    ...(typeof body['iat'] === 'number' ? { iat: body['iat'] } : {}),
  };
  const key = claims.kid === undefined ? undefined : keys.get(claims.kid);
  if (header['alg'] !== 'ES256' || !key) return { claims, rejection: reject(403, 'InvalidProviderToken') };
  // JWS ES256 signatures are raw r||s (RFC 7518 §3.4), not DER.
  const signed = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'));
  if (!signed || claims.iss !== teamId || claims.iat === undefined) return { claims, rejection: reject(403, 'InvalidProviderToken') };
  const now = Date.now() / 1000;
  if (claims.iat > now + TOKEN_CLOCK_SKEW_S) return { claims, rejection: reject(403, 'InvalidProviderToken') };
  if (claims.iat < now - TOKEN_LIFETIME_S) return { claims, rejection: reject(403, 'ExpiredProviderToken') };
  return { claims };
}

/** The payload must be a JSON dictionary. */
function decodeBody(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isTopicAllowed(topic: string, topics: readonly string[] | undefined): boolean {
  return !topics || topics.some((allowed) => TOPIC_SUFFIXES.some((suffix) => topic === allowed + suffix));
}

function duplicateHeader(rawHeaders: readonly string[] | undefined): boolean {
  const seen = new Set<string>();
  for (let i = 0; rawHeaders && i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (seen.has(name)) return true;
    seen.add(name);
  }
  return false;
}

function validateOptions(options: ApnsMockOptions): void {
  const fail = (message: string) => {
    throw new TypeError(`startApnsMock: ${message}`);
  };
  if (options.teamId !== undefined && (typeof options.teamId !== 'string' || !options.teamId)) fail('options.teamId must be a non-empty string');
  if (options.latencyMs !== undefined && !(Number.isFinite(options.latencyMs) && options.latencyMs >= 0)) fail('options.latencyMs must be a number >= 0');
  if (options.topics !== undefined && (!Array.isArray(options.topics) || !options.topics.every((t) => typeof t === 'string' && t))) fail('options.topics must be an array of bundle ids');
  for (const [kid, pem] of Object.entries(options.keys ?? {})) {
    let type: string | undefined;
    try {
      type = createPublicKey(pem).asymmetricKeyDetails?.namedCurve;
    } catch {
      type = undefined;
    }
    if (type !== 'prime256v1') fail(`options.keys.${kid} must be a P-256 (ES256) public key PEM`);
  }
}

/** Starts the mock on 127.0.0.1, port 0. */
export async function startApnsMock(options: ApnsMockOptions = {}): Promise<ApnsMock> {
  validateOptions(options);
  const teamId = options.teamId ?? 'HERALDTEAM';
  const providerKey = options.keys ? undefined : createProviderKey(teamId);
  const keys = new Map(Object.entries(options.keys ?? { [providerKey!.keyId]: providerKey!.publicKeyPem }).map(([kid, pem]) => [kid, createPublicKey(pem)]));
  const topics = options.topics ? Object.freeze([...options.topics]) : undefined;
  const latencyMs = options.latencyMs ?? 0;
  const ca = options.ca ?? (await sharedTestCa());
  const clientCa = options.clientCa === undefined ? [ca.certPem] : typeof options.clientCa === 'string' ? [options.clientCa] : [...options.clientCa];
  const serverCert = await ca.issueServerCertificate();

  const requests: ApnsRequest[] = [];
  const scripts = new Map<string, ApnsBehaviour[]>();
  let fallback: ApnsBehaviour = { status: 200 };
  const sessions = new Set<ServerHttp2Session>();
  const peers = new WeakMap<Http2Session, Peer>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<{ count: number; resolve: (r: readonly ApnsRequest[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  const server = createSecureServer({
    key: serverCert.keyPem,
    cert: serverCert.certPem,
    ca: clientCa,
    // APNs certificate auth: ask for a client certificate but let token-auth clients in without one.
    requestCert: true,
    rejectUnauthorized: false,
    allowHTTP1: false,
  });

  const peerOf = (session: Http2Session): Peer => {
    let peer = peers.get(session);
    if (!peer) {
      const socket = session.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const subject = cert?.raw ? new X509Certificate(cert.raw).subject.split('\n').join(', ') : undefined;
      peer = { authorized: socket.authorized && subject !== undefined, ...(subject !== undefined ? { subject } : {}) };
      peers.set(session, peer);
    }
    return peer;
  };

  const record = (entry: ApnsRequest) => {
    requests.push(entry);
    for (const waiter of waiters) {
      if (requests.length >= waiter.count) {
        waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(requests);
      }
    }
  };

  /** Verification in the mock's order (Apple documents the reasons, not an order). */
  const verifyRequest = (
    headers: IncomingHttpHeaders,
    rawHeaders: readonly string[] | undefined,
    token: string | undefined,
    body: Buffer,
    bytes: number,
    authRejection: Rejection | undefined,
  ): Rejection | undefined => {
    const header = (name: string) => (typeof headers[name] === 'string' ? (headers[name] as string) : undefined);
    if (headers[':method'] !== 'POST') return reject(405, 'MethodNotAllowed');
    if (token === undefined) return reject(404, 'BadPath');
    if (token === '') return reject(400, 'MissingDeviceToken');
    if (duplicateHeader(rawHeaders)) return reject(400, 'DuplicateHeaders');
    if (authRejection) return authRejection;
    const topic = header('apns-topic');
    if (topic === undefined) return reject(400, 'MissingTopic');
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(topic)) return reject(400, 'BadTopic');
    if (!isTopicAllowed(topic, topics)) return reject(400, 'TopicDisallowed');
    const pushType = header('apns-push-type');
    if (pushType !== undefined && !PUSH_TYPES.has(pushType)) return reject(400, 'InvalidPushType');
    const id = header('apns-id');
    if (id !== undefined && !UUID.test(id)) return reject(400, 'BadMessageId');
    const priority = header('apns-priority');
    if (priority !== undefined && !['1', '5', '10'].includes(priority)) return reject(400, 'BadPriority');
    const expiration = header('apns-expiration');
    if (expiration !== undefined && !/^\d{1,12}$/.test(expiration)) return reject(400, 'BadExpirationDate');
    const collapseId = header('apns-collapse-id');
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return reject(400, 'BadCollapseId');
    if (!/^[0-9a-fA-F]{64,}$/.test(token) || token.length % 2 !== 0) return reject(400, 'BadDeviceToken');
    if (bytes > (pushType === 'voip' ? MAX_VOIP_PAYLOAD : MAX_PAYLOAD)) return reject(413, 'PayloadTooLarge');
    if (bytes === 0) return reject(400, 'PayloadEmpty');
    // Not in Apple's table: the mock's answer to a body that is not a JSON dictionary.
    if (decodeBody(body) === undefined) return reject(400, 'BadPayload');
    return undefined;
  };

  const act = (stream: ServerHttp2Stream, behaviour: ApnsBehaviour | Rejection, apnsId: string) => {
    if (stream.destroyed || stream.closed) return;
    if ('kind' in behaviour) {
      if (behaviour.kind === 'reset') stream.close(behaviour.code ?? constants.NGHTTP2_INTERNAL_ERROR);
      if (behaviour.kind === 'goaway') {
        const session = stream.session;
        if (!session || session.destroyed) return;
        const debugData = Buffer.from(JSON.stringify({ reason: behaviour.reason ?? 'Shutdown' }));
        session.goaway(behaviour.code ?? constants.NGHTTP2_NO_ERROR, Math.max(0, stream.id! - 2), debugData);
        stream.close(constants.NGHTTP2_REFUSED_STREAM);
        session.close();
      }
      return;
    }
    const responseHeaders: Record<string, string | number> = { ':status': behaviour.status, 'apns-id': apnsId };
    if (behaviour.status === 200) {
      stream.respond(responseHeaders, { endStream: true });
      return;
    }
    if ('retryAfter' in behaviour && behaviour.retryAfter !== undefined) responseHeaders['retry-after'] = behaviour.retryAfter;
    stream.respond(responseHeaders);
    const reason = 'reason' in behaviour ? behaviour.reason : undefined;
    stream.end(JSON.stringify('timestamp' in behaviour ? { reason, timestamp: behaviour.timestamp } : { reason }));
  };

  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined); // a client vanishing mid-frame is not the mock's failure
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders?: string[]) => {
    const at = Date.now();
    stream.on('error', () => undefined); // clients may reset streams (timeouts): expected
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_VOIP_PAYLOAD) chunks.push(chunk);
    });
    stream.on('end', () => {
      const path = String(headers[':path'] ?? '');
      const token = /^\/3\/device\/([^/?]*)$/.exec(path)?.[1];
      const authorization = typeof headers['authorization'] === 'string' ? headers['authorization'] : undefined;
      const jwt = authorization === undefined ? undefined : /^bearer\s+(\S+)$/i.exec(authorization)?.[1];
      if (!stream.session) return;
      const peer = peerOf(stream.session);
      const decoded = jwt !== undefined ? checkProviderToken(jwt, keys, teamId) : undefined;
      const authRejection =
        authorization !== undefined
          ? jwt === undefined
            ? reject(403, 'MissingProviderToken')
            : decoded?.rejection
          : peer.authorized
            ? undefined
            : peer.subject !== undefined
              ? reject(403, 'BadCertificate')
              : reject(403, 'MissingProviderToken');
      const body = Buffer.concat(chunks);
      const rejection = verifyRequest(headers, rawHeaders, token, body, bytes, authRejection);
      const requestId = typeof headers['apns-id'] === 'string' && UUID.test(headers['apns-id']) ? headers['apns-id'].toLowerCase() : randomUUID();
      // A request that fails verification does not consume the token's script.
      const behaviour: ApnsBehaviour | Rejection = rejection ?? scripts.get(token!.toLowerCase())?.shift() ?? fallback;
      const apnsHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) if (name.startsWith('apns-') && value !== undefined) apnsHeaders[name] = String(value);
      const answered = 'status' in behaviour;
      record({
        token: token ?? '',
        method: String(headers[':method'] ?? ''),
        path,
        headers: apnsHeaders,
        auth: authorization !== undefined ? 'token' : peer.subject !== undefined ? 'certificate' : 'none',
        hasProviderToken: jwt !== undefined,
        ...(decoded?.claims ? { providerToken: decoded.claims } : {}),
        ...(peer.subject !== undefined ? { clientCertSubject: peer.subject } : {}),
        payload: bytes > 0 && bytes <= MAX_VOIP_PAYLOAD ? decodeBody(body) : undefined,
        payloadBytes: bytes,
        ...(answered ? { status: behaviour.status } : {}),
        ...('reason' in behaviour && behaviour.reason !== undefined ? { reason: behaviour.reason } : {}),
        outcome: answered ? 'answered' : behaviour.kind,
        apnsId: requestId,
        at,
      });
      if (latencyMs === 0) return act(stream, behaviour, requestId);
      const timer = setTimeout(() => {
        timers.delete(timer);
        act(stream, behaviour, requestId);
      }, latencyMs);
      timers.add(timer);
    });
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const caFile = ca.writeCaFile();
  const port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    caPem: ca.certPem,
    caFile,
    teamId,
    providerKey,
    requests,
    script(token, ...behaviours) {
      const key = token.toLowerCase();
      scripts.set(key, [...(scripts.get(key) ?? []), ...behaviours]);
    },
    setDefault(behaviour) {
      fallback = behaviour;
    },
    waitForRequests(count, timeoutMs = 5000) {
      if (requests.length >= count) return Promise.resolve(requests);
      return new Promise((resolve, rejectWait) => {
        const waiter = {
          count,
          resolve,
          reject: rejectWait,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            rejectWait(new Error(`APNs mock: ${requests.length} of ${count} requests within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    reset() {
      requests.length = 0;
      scripts.clear();
      fallback = { status: 200 };
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('APNs mock closed'));
      }
      waiters.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
      rmSync(dirname(caFile), { recursive: true, force: true });
    },
  };
}
