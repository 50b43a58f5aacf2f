import { randomBytes, sign, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, existsSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Notification, Provider, type ProviderOptions } from '@parse/node-apn';
import {
  createProviderKey,
  createTestCa,
  sharedTestCa,
  startApnsMock,
  type ApnsMock,
  type ApnsProviderKey,
  type IssuedCertificate,
  type TestCa,
} from '@herald/test-support';

const TOPIC = 'com.herald.test';
const deviceToken = () => randomBytes(32).toString('hex');

function providerToken(
  key: ApnsProviderKey,
  change: { header?: Record<string, unknown>; claims?: Record<string, unknown>; signWith?: string } = {},
): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = part({ alg: 'ES256', kid: key.keyId, ...change.header });
  const claims = part({ iss: key.teamId, iat: Math.floor(Date.now() / 1000), ...change.claims });
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: change.signWith ?? key.key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${claims}.${signature.toString('base64url')}`;
}

/** A JSON body of exactly `bytes` bytes. */
const bodyOf = (bytes: number) => JSON.stringify({ p: 'x'.repeat(bytes - '{"p":""}'.length) });

interface Answer {
  readonly status?: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly rstCode?: number;
  readonly timedOut: boolean;
}

interface RawRequest {
  token?: string;
  path?: string;
  method?: string;
  /** A provider token; null sends no authorization header. */
  jwt?: string | null;
  headers?: OutgoingHttpHeaders;
  body?: string;
  /** Client-side timeout in ms: the answer resolves with timedOut and the stream is cancelled. */
  timeoutMs?: number;
}

/** Apple's provider API request over a raw HTTP/2 session, for exact assertions on the answer. */
function send(session: ClientHttp2Session, key: ApnsProviderKey, request: RawRequest = {}): Promise<Answer> {
  const jwt = request.jwt === undefined ? providerToken(key) : request.jwt;
  const stream = session.request({
    ':method': request.method ?? 'POST',
    ':path': request.path ?? `/3/device/${request.token ?? deviceToken()}`,
    'apns-topic': TOPIC,
    'apns-push-type': 'alert',
    'apns-priority': '10',
    ...(jwt === null ? {} : { authorization: `bearer ${jwt}` }),
    ...request.headers,
  });
  let status: number | undefined;
  let headers: IncomingHttpHeaders = {};
  let body = '';
  let timedOut = false;
  stream.on('response', (h) => {
    headers = h;
    status = Number(h[':status']);
  });
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (body += chunk));
  stream.on('error', () => undefined); // the rst code is the assertion
  if (request.timeoutMs !== undefined) {
    stream.setTimeout(request.timeoutMs, () => {
      timedOut = true;
      stream.close(constants.NGHTTP2_CANCEL);
    });
  }
  if (request.method === 'GET') stream.end();
  else stream.end(request.body ?? JSON.stringify({ aps: { alert: 'hello' } }));
  return new Promise((resolve) =>
    stream.on('close', () => resolve({ ...(status !== undefined ? { status } : {}), headers, body, rstCode: stream.rstCode, timedOut })),
  );
}

const reasonOf = (answer: Answer) => (JSON.parse(answer.body) as { reason: string }).reason;

let ca: TestCa;
let mock: ApnsMock;
let key: ApnsProviderKey;
let client: ClientHttp2Session;
const sessions: ClientHttp2Session[] = [];

function open(target: ApnsMock, credentials?: IssuedCertificate): ClientHttp2Session {
  const session = connect(`https://127.0.0.1:${target.port}`, {
    ca: target.caPem,
    ...(credentials ? { cert: credentials.certPem, key: credentials.keyPem } : {}),
  });
  session.on('error', () => undefined);
  sessions.push(session);
  return session;
}

beforeAll(async () => {
  ca = await sharedTestCa();
  mock = await startApnsMock({ topics: [TOPIC] });
  key = mock.providerKey!;
  client = open(mock);
});
afterAll(async () => {
  for (const session of sessions) session.destroy();
  await mock.close();
});
beforeEach(() => mock.reset());

describe('test CA', () => {
  test('issues a server certificate for localhost and 127.0.0.1, signed by the CA, and writes the CA file', async () => {
    const cert = new X509Certificate((await ca.issueServerCertificate()).certPem);
    const authority = new X509Certificate(ca.certPem);
    expect(cert.verify(authority.publicKey)).toBe(true);
    expect(cert.checkIssued(authority)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(authority.ca).toBe(true);
    expect(readFileSync(mock.caFile, 'utf8')).toBe(ca.certPem);
  });

  test('sharedTestCa is one CA per process; createTestCa makes a new one', async () => {
    expect(await sharedTestCa()).toBe(ca);
    const other = await createTestCa();
    expect(other.certPem).not.toBe(ca.certPem);
    const client = new X509Certificate((await other.issueClientCertificate({ topic: 'com.example.app' })).certPem);
    expect(client.subject).toContain('UID=com.example.app');
    expect(client.checkIssued(new X509Certificate(other.certPem))).toBe(true);
    expect(client.checkIssued(new X509Certificate(ca.certPem))).toBe(false);
  });
});

describe('APNs mock over raw HTTP/2', () => {
  test('accepts a valid request and records it without the provider token', async () => {
    const token = deviceToken();
    const apnsId = 'a8f2c0e4-3b1d-4e2f-9c6a-5d7e8f901234';
    const jwt = providerToken(key);
    const answer = await send(client, key, {
      token,
      jwt,
      headers: { 'apns-id': apnsId, 'apns-collapse-id': 'room-1', 'apns-expiration': '1700000000' },
      body: JSON.stringify({ aps: { alert: 'hello' }, id: 7 }),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['apns-id']).toBe(apnsId);
    expect(answer.body).toBe('');
    expect(mock.requests).toHaveLength(1);
    const [request] = mock.requests;
    expect(request).toMatchObject({
      token,
      method: 'POST',
      path: `/3/device/${token}`,
      auth: 'token',
      hasProviderToken: true,
      providerToken: { kid: key.keyId, iss: 'HERALDTEAM', iat: expect.any(Number) },
      payload: { aps: { alert: 'hello' }, id: 7 },
      status: 200,
      outcome: 'answered',
      apnsId,
    });
    expect(request!.headers).toEqual({
      'apns-topic': TOPIC,
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'apns-id': apnsId,
      'apns-collapse-id': 'room-1',
      'apns-expiration': '1700000000',
    });
    expect(Math.abs(request!.at - Date.now())).toBeLessThan(5000);
    expect(JSON.stringify(mock.requests)).not.toContain(jwt.split('.')[2]);
  });

  test('answers a new UUID as apns-id when the request has none', async () => {
    const answer = await send(client, key);
    expect(answer.headers['apns-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(mock.requests[0]!.apnsId).toBe(answer.headers['apns-id']);
  });

  test.each([
    ['64-byte collapse id', { 'apns-collapse-id': 'c'.repeat(64) }, bodyOf(100)],
    ['4096-byte payload', {}, bodyOf(4096)],
    ['5120-byte VoIP payload', { 'apns-push-type': 'voip', 'apns-topic': `${TOPIC}.voip` }, bodyOf(5120)],
    ['topic with a push-type suffix', { 'apns-topic': `${TOPIC}.push-type.liveactivity`, 'apns-push-type': 'liveactivity' }, bodyOf(100)],
  ])('accepts the limit case: %s', async (_name, headers, body) => {
    expect((await send(client, key, { headers, body })).status).toBe(200);
  });

  describe('protocol violations', () => {
    const otherKey = createProviderKey('HERALDTEAM');
    const now = () => Math.floor(Date.now() / 1000);
    const cases: Array<[string, number, string, () => RawRequest]> = [
      ['GET', 405, 'MethodNotAllowed', () => ({ method: 'GET' })],
      ['an unknown path', 404, 'BadPath', () => ({ path: '/3/devices/abc' })],
      ['no device token', 400, 'MissingDeviceToken', () => ({ path: '/3/device/' })],
      ['a repeated header', 400, 'DuplicateHeaders', () => ({ headers: { 'apns-priority': ['10', '10'] } })],
      ['no authorization and no client certificate', 403, 'MissingProviderToken', () => ({ jwt: null })],
      ['an empty bearer', 403, 'MissingProviderToken', () => ({ jwt: '' })],
      ['a token that is not a JWT', 403, 'InvalidProviderToken', () => ({ jwt: 'not-a-jwt' })],
      ['a bad signature', 403, 'InvalidProviderToken', () => ({ jwt: providerToken(key, { signWith: otherKey.key }) })],
      ['an unknown kid', 403, 'InvalidProviderToken', () => ({ jwt: providerToken(otherKey) })],
      ['alg HS256', 403, 'InvalidProviderToken', () => ({ jwt: providerToken(key, { header: { alg: 'HS256' } }) })],
      ['another team', 403, 'InvalidProviderToken', () => ({ jwt: providerToken(key, { claims: { iss: 'OTHERTEAM1' } }) })],
      ['no iat', 403, 'InvalidProviderToken', () => ({ jwt: providerToken(key, { claims: { iat: undefined } }) })],
      ['iat in milliseconds', 403, 'InvalidProviderToken', () => ({ jwt: providerToken(key, { claims: { iat: Date.now() } }) })],
      ['iat older than an hour', 403, 'ExpiredProviderToken', () => ({ jwt: providerToken(key, { claims: { iat: now() - 3601 } }) })],
      ['no topic', 400, 'MissingTopic', () => ({ headers: { 'apns-topic': undefined } })],
      ['a malformed topic', 400, 'BadTopic', () => ({ headers: { 'apns-topic': 'com herald' } })],
      ['a topic not accepted', 400, 'TopicDisallowed', () => ({ headers: { 'apns-topic': 'com.other.app' } })],
      ['an unknown push type', 400, 'InvalidPushType', () => ({ headers: { 'apns-push-type': 'banner' } })],
      ['an apns-id that is not a UUID', 400, 'BadMessageId', () => ({ headers: { 'apns-id': 'message-1' } })],
      ['priority 7', 400, 'BadPriority', () => ({ headers: { 'apns-priority': '7' } })],
      ['a non-numeric expiration', 400, 'BadExpirationDate', () => ({ headers: { 'apns-expiration': 'tomorrow' } })],
      ['a 65-byte collapse id', 400, 'BadCollapseId', () => ({ headers: { 'apns-collapse-id': 'c'.repeat(65) } })],
      ['a device token that is not hex', 400, 'BadDeviceToken', () => ({ token: 'z'.repeat(64) })],
      ['a short device token', 400, 'BadDeviceToken', () => ({ token: 'ab'.repeat(8) })],
      ['a 4097-byte payload', 413, 'PayloadTooLarge', () => ({ body: bodyOf(4097) })],
      ['a 5121-byte VoIP payload', 413, 'PayloadTooLarge', () => ({ headers: { 'apns-push-type': 'voip' }, body: bodyOf(5121) })],
      ['an empty payload', 400, 'PayloadEmpty', () => ({ body: '' })],
      ['a payload that is not a JSON dictionary', 400, 'BadPayload', () => ({ body: '[1,2]' })],
    ];
    test.each(cases)('%s → %i %s', async (_name, status, reason, request) => {
      const answer = await send(client, key, request());
      expect(answer.status).toBe(status);
      expect(reasonOf(answer)).toBe(reason);
      expect(answer.headers['apns-id']).toEqual(expect.any(String));
      expect(mock.requests).toMatchObject([{ status, reason, outcome: 'answered' }]);
    });
  });

  test('plays a token’s script in order, then the default; other tokens are untouched', async () => {
    const token = deviceToken();
    const untouched = deviceToken();
    mock.script(
      token.toUpperCase(),
      { status: 410, reason: 'Unregistered', timestamp: 1_700_000_000_123 },
      { status: 400, reason: 'BadDeviceToken' },
      { status: 413, reason: 'PayloadTooLarge' },
      { status: 429, reason: 'TooManyRequests', retryAfter: 30 },
      { status: 500, reason: 'InternalServerError' },
      { status: 503, reason: 'ServiceUnavailable' },
      { status: 200 },
    );
    expect((await send(client, key, { token: untouched })).status).toBe(200);
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await send(client, key, { token }));
    expect(answers.map((a) => a.status)).toEqual([410, 400, 413, 429, 500, 503, 200, 200]);
    expect(JSON.parse(answers[0]!.body)).toEqual({ reason: 'Unregistered', timestamp: 1_700_000_000_123 });
    expect(answers.slice(1, 6).map(reasonOf)).toEqual(['BadDeviceToken', 'PayloadTooLarge', 'TooManyRequests', 'InternalServerError', 'ServiceUnavailable']);
    expect(answers[3]!.headers['retry-after']).toBe('30');
    expect(answers[4]!.headers['retry-after']).toBeUndefined();
    expect(answers[6]!.body).toBe('');
    expect(mock.requests.map((r) => r.status)).toEqual([200, 410, 400, 413, 429, 500, 503, 200, 200]);
  });

  test('a request that fails verification does not consume the script', async () => {
    const token = deviceToken();
    mock.script(token, { status: 410, reason: 'Unregistered', timestamp: 1 });
    expect((await send(client, key, { token, headers: { 'apns-topic': undefined } })).status).toBe(400);
    expect((await send(client, key, { token })).status).toBe(410);
  });

  test('setDefault applies to every token without a script; reset restores 200 and forgets', async () => {
    mock.setDefault({ status: 503, reason: 'ServiceUnavailable' });
    mock.script(deviceToken(), { status: 200 });
    expect((await send(client, key)).status).toBe(503);
    mock.reset();
    expect(mock.requests).toHaveLength(0);
    expect((await send(client, key)).status).toBe(200);
  });

  test('reset: RST_STREAM without an answer', async () => {
    const token = deviceToken();
    mock.script(token, { kind: 'reset' }, { kind: 'reset', code: constants.NGHTTP2_REFUSED_STREAM });
    const first = await send(client, key, { token });
    const second = await send(client, key, { token });
    expect(first.status).toBeUndefined();
    expect(first.rstCode).toBe(constants.NGHTTP2_INTERNAL_ERROR);
    expect(second.rstCode).toBe(constants.NGHTTP2_REFUSED_STREAM);
    expect(mock.requests.map((r) => [r.outcome, r.status])).toEqual([
      ['reset', undefined],
      ['reset', undefined],
    ]);
    expect((await send(client, key, { token })).status).toBe(200);
  });

  test('goaway: GOAWAY with a JSON reason, the stream refused, the connection closed', async () => {
    const session = open(mock);
    expect((await send(session, key)).status).toBe(200); // stream 1 is processed
    const token = deviceToken();
    mock.script(token, { kind: 'goaway' });
    const goaway = once(session, 'goaway') as Promise<[number, number, Buffer]>;
    const closed = once(session, 'close');
    const answer = await send(session, key, { token });
    const [code, lastStreamId, data] = await goaway;
    expect(code).toBe(constants.NGHTTP2_NO_ERROR);
    expect(lastStreamId).toBe(1);
    expect(JSON.parse(data.toString())).toEqual({ reason: 'Shutdown' });
    expect(answer.status).toBeUndefined();
    expect(answer.rstCode).toBe(constants.NGHTTP2_REFUSED_STREAM);
    await closed;
    expect(mock.requests.map((r) => r.outcome)).toEqual(['answered', 'goaway']);
    expect((await send(open(mock), key, { token })).status).toBe(200);
  });

  test('hang: no answer until the client gives up', async () => {
    const token = deviceToken();
    mock.script(token, { kind: 'hang' });
    const answer = await send(client, key, { token, timeoutMs: 300 });
    expect(answer.timedOut).toBe(true);
    expect(answer.status).toBeUndefined();
    expect(answer.rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(mock.requests).toMatchObject([{ token, outcome: 'hang' }]);
    expect(mock.requests[0]!.status).toBeUndefined();
  });

  test('certificate auth: a client certificate from the test CA is accepted, another CA’s is not', async () => {
    const trusted = open(mock, await ca.issueClientCertificate());
    const answer = await send(trusted, key, { jwt: null });
    expect(answer.status).toBe(200);
    expect(mock.requests[0]).toMatchObject({ auth: 'certificate', hasProviderToken: false, clientCertSubject: `UID=${TOPIC}, CN=Apple Push Services: ${TOPIC}` });
    expect(mock.requests[0]!.providerToken).toBeUndefined();
    const untrusted = open(mock, await (await createTestCa('Other CA')).issueClientCertificate());
    const refused = await send(untrusted, key, { jwt: null });
    expect(refused.status).toBe(403);
    expect(reasonOf(refused)).toBe('BadCertificate');
  });

  test('waitForRequests resolves on the nth request and fails with the count on timeout', async () => {
    const waiting = mock.waitForRequests(2, 5000);
    await send(client, key);
    await send(client, key);
    expect(await waiting).toHaveLength(2);
    await expect(mock.waitForRequests(3, 50)).rejects.toThrow('2 of 3 requests within 50 ms');
  });

  test('latencyMs delays every answer', async () => {
    const slow = await startApnsMock({ latencyMs: 250, keys: { [key.keyId]: key.publicKeyPem } });
    try {
      const session = open(slow);
      const started = Date.now();
      const [accepted, rejected] = await Promise.all([send(session, key), send(session, key, { jwt: null })]);
      const elapsed = Date.now() - started;
      expect([accepted.status, rejected.status]).toEqual([200, 403]);
      expect(elapsed).toBeGreaterThanOrEqual(245);
      expect(slow.requests).toHaveLength(2);
    } finally {
      await slow.close();
    }
  });

  test('close() ends hung streams and their connections', async () => {
    const other = await startApnsMock({ keys: { [key.keyId]: key.publicKeyPem } });
    other.setDefault({ kind: 'hang' });
    const session = open(other);
    const answer = send(session, key);
    const pending = expect(other.waitForRequests(2, 10_000)).rejects.toThrow('APNs mock closed');
    await other.waitForRequests(1);
    const closed = once(session, 'close');
    await other.close();
    await closed;
    expect((await answer).status).toBeUndefined();
    await pending;
    expect(existsSync(other.caFile)).toBe(false);
  });

  test('a process exits by itself after close(), with a hung request still open', () => {
    const script = `
      const http2 = require('node:http2');
      const { startApnsMock, sharedTestCa } = require(${JSON.stringify(require.resolve('@herald/test-support'))});
      (async () => {
        const mock = await startApnsMock();
        mock.setDefault({ kind: 'hang' });
        const credentials = await (await sharedTestCa()).issueClientCertificate();
        const session = http2.connect('https://127.0.0.1:' + mock.port, { ca: mock.caPem, cert: credentials.certPem, key: credentials.keyPem });
        session.on('error', () => {});
        const stream = session.request({ ':method': 'POST', ':path': '/3/device/' + 'ab'.repeat(32), 'apns-topic': 'com.herald.test' });
        stream.on('error', () => {});
        stream.end('{"aps":{}}');
        const [request] = await mock.waitForRequests(1);
        await mock.close();
        console.log(request.outcome, request.auth);
      })();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('hang certificate');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
  });

  test('bad options stop the start with a message that names the option', async () => {
    await expect(startApnsMock({ latencyMs: -1 })).rejects.toThrow('options.latencyMs');
    await expect(startApnsMock({ keys: { K1: ca.certPem } })).rejects.toThrow('options.keys.K1');
    await expect(startApnsMock({ topics: [''] })).rejects.toThrow('options.topics');
  });
});

describe('with @parse/node-apn 8', () => {
  const providers: Provider[] = [];
  /** The options Herald's worker needs against the mock: address, port and the test CA. */
  const provider = (options: Partial<ProviderOptions> = {}) => {
    // An option given as undefined keeps node-apn's default (lib/util/extend.js skips it).
    const created = new Provider({
      token: { key: key.key, keyId: key.keyId, teamId: key.teamId },
      production: false,
      address: '127.0.0.1',
      port: mock.port,
      ca: [mock.caPem],
      ...options,
    });
    providers.push(created);
    return created;
  };
  // node-apn's Provider.shutdown() returns undefined despite its typings: wait on the callback.
  afterEach(() => Promise.all(providers.splice(0).map((p) => new Promise<void>((resolve) => p.shutdown(resolve)))));

  const notification = () => {
    const note = new Notification({ topic: TOPIC, expiry: 1_900_000_000, priority: 10, collapseId: 'room-1', pushType: 'alert' });
    note.payload = { messageId: 42 };
    note.alert = 'hello';
    return note;
  };

  test.each([
    ['127.0.0.1 with the CA as PEM', () => ({ address: '127.0.0.1', ca: [mock.caPem] })],
    ['localhost with the CA file (HERALD_APNS_CA)', () => ({ address: 'localhost', ca: [mock.caFile] })],
  ])('token auth, %s: the mock verifies and records the notification', async (_name, options) => {
    const token = deviceToken();
    const result = await provider(options()).send(notification(), token);
    expect(result.failed).toEqual([]);
    expect(result.sent).toEqual([{ device: token, 'apns-id': mock.requests[0]!.apnsId }]);
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]).toMatchObject({
      token,
      auth: 'token',
      hasProviderToken: true,
      providerToken: { kid: key.keyId, iss: key.teamId },
      status: 200,
      payload: { messageId: 42, aps: { alert: 'hello' } },
      headers: { 'apns-topic': TOPIC, 'apns-expiration': '1900000000', 'apns-priority': '10', 'apns-collapse-id': 'room-1', 'apns-push-type': 'alert' },
    });
  });

  test('without the test CA the TLS handshake fails', async () => {
    const apn = provider({ ca: undefined });
    const result = await apn.send(notification(), deviceToken());
    expect(result.sent).toEqual([]);
    expect(String(result.failed[0]!.error)).toContain('self-signed certificate');
    expect(mock.requests).toHaveLength(0);
    // After a session error node-apn's shutdown callback never fires (it waits for close() of a
    // session that is already destroyed); shutdown still clears its timers, so nothing is left.
    providers.splice(providers.indexOf(apn), 1);
    apn.shutdown();
  });

  test('a scripted 410 comes back in failed with status, reason and timestamp', async () => {
    const token = deviceToken();
    mock.script(token, { status: 410, reason: 'Unregistered', timestamp: 1_700_000_000_000 });
    const result = await provider().send(notification(), token);
    expect(result.sent).toEqual([]);
    expect(result.failed).toEqual([
      { device: token, 'apns-id': expect.any(String), status: 410, response: { reason: 'Unregistered', timestamp: 1_700_000_000_000 } },
    ]);
  });

  test('a 400 is not retried', async () => {
    const token = deviceToken();
    mock.script(token, { status: 400, reason: 'BadDeviceToken' });
    const result = await provider().send(notification(), token);
    expect(result.failed).toMatchObject([{ device: token, status: 400, response: { reason: 'BadDeviceToken' } }]);
    expect(mock.requests).toHaveLength(1);
  });

  test('429 is retried at once: node-apn reads "Retry-After" but Node lower-cases header names', async () => {
    const token = deviceToken();
    mock.script(token, { status: 429, reason: 'TooManyRequests', retryAfter: 5 });
    const started = Date.now();
    const result = await provider().send(notification(), token);
    expect(result.sent).toEqual([{ device: token, 'apns-id': expect.any(String) }]);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(mock.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  test('500 is retried connectionRetryLimit times, then fails without the reason', async () => {
    const token = deviceToken();
    mock.script(token, ...Array.from({ length: 4 }, () => ({ status: 500 as const, reason: 'InternalServerError' })));
    const result = await provider().send(notification(), token);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ device: token, status: 500 });
    expect(result.failed[0]!.response).toBeUndefined();
    expect(String(result.failed[0]!.error)).toContain('Error 500');
    expect(mock.requests.map((r) => r.status)).toEqual([500, 500, 500, 500]);
  });

  test('403 ExpiredProviderToken makes node-apn sign a new token and retry', async () => {
    const token = deviceToken();
    mock.script(token, { status: 403, reason: 'ExpiredProviderToken' });
    const result = await provider().send(notification(), token);
    expect(result.sent).toHaveLength(1);
    expect(mock.requests.map((r) => r.status)).toEqual([403, 200]);
  });

  test('GOAWAY fails that notification (not retried); the next send opens a new connection', async () => {
    const apn = provider();
    const token = deviceToken();
    mock.script(token, { kind: 'goaway' });
    const result = await apn.send(notification(), token);
    expect(result.sent).toEqual([]);
    expect(String(result.failed[0]!.error)).toContain('NGHTTP2_REFUSED_STREAM');
    expect((await apn.send(notification(), token)).sent).toHaveLength(1);
    expect(mock.requests.map((r) => r.outcome)).toEqual(['goaway', 'answered']);
  });

  test('a hung stream fails after requestTimeout (not retried)', async () => {
    const token = deviceToken();
    mock.script(token, { kind: 'hang' });
    const started = Date.now();
    const result = await provider({ requestTimeout: 300 }).send(notification(), token);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(result.failed).toHaveLength(1);
    expect(String(result.failed[0]!.error)).toContain('apn write timeout');
    expect(result.failed[0]!.status).toBeUndefined();
    expect(mock.requests.map((r) => r.outcome)).toEqual(['hang']);
  });

  test('certificate auth with a client certificate from the test CA', async () => {
    const credentials = await ca.issueClientCertificate({ topic: TOPIC });
    const token = deviceToken();
    const result = await provider({ token: undefined, cert: credentials.certPem, key: credentials.keyPem }).send(notification(), token);
    expect(result.sent).toEqual([{ device: token, 'apns-id': expect.any(String) }]);
    expect(mock.requests).toMatchObject([{ token, auth: 'certificate', hasProviderToken: false, clientCertSubject: expect.stringContaining(`UID=${TOPIC}`), status: 200 }]);
  });
});
