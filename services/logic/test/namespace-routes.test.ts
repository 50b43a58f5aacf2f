/**
 * Namespace settings over REST (issue "The push protocol, REST side"): APNs configurations merged by
 * name, the redacted self view, self save, the admin list, and the request checks of the clean-up
 * routes. The clean-ups themselves run against real processes in tests/namespace-admin.test.ts.
 */
import { ClientStore, Keys, MessageStore, NamespaceStore, RoomStore, Scripts, type ApnsSettings } from '@herald/store';
import type { TestRedis } from '@herald/test-support';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './support/test-app';

let testApp: TestApp;
let server: TestRedis;
let app: FastifyInstance;
let redis: Redis;
const keys = new Keys('h:');
const ADMIN_PASSWORD = 'admin-password-for-namespace-tests';
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const admin = basic('admin', ADMIN_PASSWORD);

/** A PEM block whose body is a distinctive marker, so that a leak can be searched for. */
function pem(marker: string, label = 'PRIVATE KEY', size = 0): string {
  return `-----BEGIN ${label}-----\n${marker}${'A'.repeat(size)}\n-----END ${label}-----\n`;
}

async function call(method: 'GET' | 'POST', url: string, authorization: string, payload?: unknown) {
  const response = await app.inject({ method, url, headers: { authorization }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: response.statusCode, body: response.json(), text: response.body };
}

const save = (payload: unknown) => call('POST', '/api/admin/namespace/save', admin, payload);

async function apnsList(nsp: string): Promise<readonly ApnsSettings[]> {
  return (await new NamespaceStore(redis, keys).get(nsp))!.apnsList;
}

/** Every key and its value: a refused request must change nothing. */
async function snapshot(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await redis.keys('*')).filter((k) => !k.startsWith('h:authfail:')).sort()) {
    const type = await redis.type(key);
    out[key] =
      type === 'hash' ? await redis.hgetall(key)
      : type === 'set' ? (await redis.smembers(key)).sort()
      : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
      : type === 'list' ? await redis.lrange(key, 0, -1)
      : await redis.get(key);
  }
  return out;
}

beforeAll(async () => {
  testApp = await startTestApp(ADMIN_PASSWORD);
  ({ app, redis, server } = testApp);
});
afterAll(async () => {
  await testApp.close();
});

describe('apns_list in POST /api/admin/namespace/save', () => {
  const long = (n: number) => 'x'.repeat(n);
  test.each([
    ['not an array', { apns_list: {} }, 'BODY_INVALID', 'request body invalid: /apns_list must be array'],
    ['51 items', { apns_list: Array.from({ length: 51 }, (_, i) => ({ name: `n${i}` })) }, 'BODY_INVALID', 'request body invalid: /apns_list must NOT have more than 50 items'],
    ['no name', { apns_list: [{ apns_env: 'dev' }] }, 'BODY_INVALID', "request body invalid: /apns_list/0 must have required property 'name'"],
    ['empty name', { apns_list: [{ name: '' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/name must NOT have fewer than 1 characters'],
    ['name with a space', { apns_list: [{ name: 'a b' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/name must match pattern "^[\\w.\\-$#/\\\\]+$"'],
    ['name of 101 characters', { apns_list: [{ name: long(101) }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/name must NOT have more than 100 characters'],
    ['apns_env staging', { apns_list: [{ name: 'a', apns_env: 'staging' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_env must be equal to one of the allowed values'],
    ['apns_expiration -1', { apns_list: [{ name: 'a', apns_expiration: -1 }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_expiration must be >= 0'],
    ['apns_expiration 1.5', { apns_list: [{ name: 'a', apns_expiration: 1.5 }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_expiration must be integer'],
    ['apns_expiration as a string', { apns_list: [{ name: 'a', apns_expiration: '3600' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_expiration must be integer'],
    ['apns_topic a number', { apns_list: [{ name: 'a', apns_topic: 7 }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_topic must be string'],
    ['apns_dev_key over 16 KiB', { apns_list: [{ name: 'a', apns_dev_key: pem('k', 'PRIVATE KEY', 16 * 1024) }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_dev_key must NOT have more than 16384 characters'],
    ['token_keyId of 33 characters', { apns_list: [{ name: 'a', token_keyId: long(33) }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/token_keyId must NOT have more than 32 characters'],
    ['token_teamId of 33 characters', { apns_list: [{ name: 'a', token_teamId: long(33) }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/token_teamId must NOT have more than 32 characters'],
    ['del a string', { apns_list: [{ name: 'a', del: 'yes' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/del must be boolean'],
    ['unknown item field', { apns_list: [{ name: 'a', colour: 'red' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0 has unknown field "colour"'],
    ['a file path as certificate', { apns_list: [{ name: 'a', apns_dev_cert: '/etc/passwd' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_dev_cert must be a PEM block'],
    ['a token_key that is not PEM', { apns_list: [{ name: 'a' }, { name: 'b', token_key: 'SECRET-NOT-PEM' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/1/token_key must be a PEM block'],
  ])('%s', async (_label, fields, code, msg) => {
    const before = await snapshot();
    const response = await save({ key: '/apns-invalid', ...fields });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ code, msg });
    expect(response.text).not.toContain('SECRET');
    expect(await snapshot()).toEqual(before);
  });

  test('merged by name: a known name is merged field by field, an unknown one appended, del removes', async () => {
    const nsp = '/apns-merge';
    const a = { name: 'a', apns_env: 'dev', apns_topic: 'com.example.a', token_key: pem('KEY-A'), token_keyId: 'KA', token_teamId: 'TEAM' };
    const b = { name: 'b', apns_env: 'production', apns_production_cert: pem('CERT-B', 'CERTIFICATE'), apns_production_key: pem('KEY-B') };
    expect(await save({ key: nsp, apns_list: [a, b] })).toMatchObject({ status: 200, body: {} });
    expect(await apnsList(nsp)).toEqual([a, b]);

    expect((await save({ key: nsp, apns_list: [{ name: 'a', apns_topic: 'com.example.a2', apns_expiration: 3600 }] })).status).toBe(200);
    expect(await apnsList(nsp)).toEqual([{ ...a, apns_topic: 'com.example.a2', apns_expiration: 3600 }, b]);

    const c = { name: 'c', apns_dev_cert: pem('CERT-C', 'CERTIFICATE'), apns_dev_key: pem('KEY-C') };
    expect((await save({ key: nsp, apns_list: [c] })).status).toBe(200);
    expect((await apnsList(nsp)).map((item) => item.name)).toEqual(['a', 'b', 'c']);

    // del removes; del of an unknown name neither removes nor appends anything; del is not stored.
    expect((await save({ key: nsp, apns_list: [{ name: 'b', del: true }, { name: 'zz', del: true }, { name: 'c', del: false, apns_topic: 't' }] })).status).toBe(200);
    expect(await apnsList(nsp)).toEqual([{ ...a, apns_topic: 'com.example.a2', apns_expiration: 3600 }, { ...c, apns_topic: 't' }]);
    expect(await redis.hget(keys.namespace(nsp), 'apns_list')).not.toContain('del');

    // A save without apns_list, or with an empty one, keeps the list; '' removes a secret.
    expect((await save({ key: nsp, name: 'renamed' })).status).toBe(200);
    expect((await save({ key: nsp, apns_list: [] })).status).toBe(200);
    expect((await apnsList(nsp)).map((item) => item.name)).toEqual(['a', 'c']);
    expect((await save({ key: nsp, apns_list: [{ name: 'a', token_key: '' }, { name: 'c', del: true }] })).status).toBe(200);
    const view = await call('GET', `/api/admin/namespace/list?key=${encodeURIComponent(nsp)}`, admin);
    expect(view.body.list[0].apns_list).toEqual([{ name: 'a', apns_env: 'dev', apns_topic: 'com.example.a2', apns_expiration: 3600, token_keyId: 'KA', token_teamId: 'TEAM' }]);

    // Deleting the last one stores an empty list.
    expect((await save({ key: nsp, apns_list: [{ name: 'a', del: true }] })).status).toBe(200);
    expect(await redis.hget(keys.namespace(nsp), 'apns_list')).toBe('[]');
    expect(await apnsList(nsp)).toEqual([]);
  });

  test('saves at once never lose each other’s configurations (the merge is one script)', async () => {
    const nsp = '/apns-race';
    expect((await save({ key: nsp })).status).toBe(200);
    const names = Array.from({ length: 20 }, (_, i) => `cfg${i}`);
    const results = await Promise.all(names.map((name) => save({ key: nsp, apns_list: [{ name, apns_topic: name }] })));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 200));
    expect((await apnsList(nsp)).map((item) => item.name).sort()).toEqual([...names].sort());
  });

  test('the merged list is capped at 50 configurations and 512 KiB; over the cap nothing is saved', async () => {
    const nsp = '/apns-cap';
    const items = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ name: `c${from + i}` }));
    expect((await save({ key: nsp, apns_list: items(0, 49) })).status).toBe(200);
    const before = await snapshot();
    expect(await save({ key: nsp, apns_list: items(49, 2) })).toMatchObject({
      status: 400,
      body: { code: 'APNS_LIST_TOO_LARGE', msg: 'apns_list too large: at most 50 configurations' },
    });
    expect(await snapshot()).toEqual(before);
    // Replacing and deleting in the same save is fine.
    expect((await save({ key: nsp, apns_list: [{ name: 'c0', del: true }, ...items(49, 2)] })).status).toBe(200);
    expect(await apnsList(nsp)).toHaveLength(50);

    const big = '/apns-bytes';
    // Each item holds five 15 KiB secrets; three items fit in one request body (256 KiB).
    const heavy = (from: number) =>
      Array.from({ length: 3 }, (_, i) => ({
        name: `h${from + i}`,
        apns_dev_cert: pem('c', 'CERTIFICATE', 15_000),
        apns_dev_key: pem('k', 'PRIVATE KEY', 15_000),
        apns_production_cert: pem('c', 'CERTIFICATE', 15_000),
        apns_production_key: pem('k', 'PRIVATE KEY', 15_000),
        token_key: pem('t', 'PRIVATE KEY', 15_000),
      }));
    expect((await save({ key: big, apns_list: heavy(0) })).status).toBe(200);
    expect((await save({ key: big, apns_list: heavy(3) })).status).toBe(200);
    // Compared by digest in Redis: reading half a megabyte makes ioredis' parser keep a timer that
    // outlives the test by seconds.
    const digest = () => redis.eval("return redis.sha1hex(cjson.encode(redis.call('HGETALL', KEYS[1])))", 1, keys.namespace(big));
    const full = await digest();
    expect(await save({ key: big, apns_list: heavy(6) })).toMatchObject({
      status: 400,
      body: { code: 'APNS_LIST_TOO_LARGE', msg: 'apns_list too large: at most 524288 bytes of JSON' },
    });
    expect(await digest()).toEqual(full);
    expect(await redis.hstrlen(keys.namespace(big), 'apns_list')).toBeGreaterThan(400_000);
    await redis.multi().del(keys.namespace(big)).zrem(keys.namespaceIndex(), big).exec();
  });

  test('every save is announced on the namespace channel, so that every process sees it', async () => {
    const subscriber = new Redis(server.url);
    try {
      await subscriber.subscribe(keys.namespaceChannel());
      const heard = new Promise<string>((resolve) => subscriber.once('message', (_channel: string, message: string) => resolve(message)));
      expect((await save({ key: '/apns-announce', apns_list: [{ name: 'a', apns_env: 'dev' }] })).status).toBe(200);
      expect(await heard).toBe('/apns-announce');
    } finally {
      await subscriber.quit();
    }
  });
});

describe('secrets never leave the API', () => {
  const nsp = '/secrets';
  const password = 'SECRET-PASSWORD-7f3a';
  const SECRETS = {
    callback_auth: 'SECRET-CALLBACK-AUTH-91c2',
    apns_dev_cert: pem('SECRETDEVCERT01', 'CERTIFICATE'),
    apns_dev_key: pem('SECRETDEVKEY02'),
    apns_production_cert: pem('SECRETPRODCERT03', 'CERTIFICATE'),
    apns_production_key: pem('SECRETPRODKEY04'),
    token_key: pem('SECRETTOKENKEY05'),
  };
  const markers = [password, SECRETS.callback_auth, 'SECRETDEVCERT01', 'SECRETDEVKEY02', 'SECRETPRODCERT03', 'SECRETPRODKEY04', 'SECRETTOKENKEY05'];
  const auth = basic(nsp, password);

  beforeAll(async () => {
    const { callback_auth, ...apns } = SECRETS;
    const saved = await save({
      key: nsp,
      name: 'Secrets Inc',
      auth_passwd: password,
      callback_auth,
      connect_callback: 'https://example.com/connect',
      apns_list: [
        { name: 'full', apns_env: 'production', apns_expiration: 60, apns_topic: 'com.example.full', token_keyId: 'KEYID', token_teamId: 'TEAMID', ...apns },
        { name: 'bare', apns_env: 'dev' },
      ],
    });
    expect(saved.status).toBe(200);
  });

  test('GET /api/auth/namespace: the seed fields, each secret replaced by true when set', async () => {
    const response = await call('GET', '/api/auth/namespace', auth);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      key: nsp,
      name: 'Secrets Inc',
      offline: 'off',
      connect_callback: 'https://example.com/connect',
      disconnect_callback: '',
      auth_passwd: true,
      callback_auth: true,
      apns_list: [
        {
          name: 'full',
          apns_env: 'production',
          apns_expiration: 60,
          apns_topic: 'com.example.full',
          token_keyId: 'KEYID',
          token_teamId: 'TEAMID',
          apns_dev_cert: true,
          apns_dev_key: true,
          apns_production_cert: true,
          apns_production_key: true,
          token_key: true,
        },
        { name: 'bare', apns_env: 'dev' },
      ],
      update_date: expect.any(Number),
      client_ip: '127.0.0.1',
    });
  });

  test('no secret, nor the password hash, appears in any answer', async () => {
    const hash = await redis.hget(keys.namespace(nsp), 'auth_passwd_hash');
    expect(hash).toBeTruthy();
    const answers = [
      await call('GET', '/api/auth/namespace', auth),
      await call('GET', '/api/admin/namespace/list', admin),
      await call('GET', `/api/admin/namespace/list?online=true&key=${encodeURIComponent(nsp)}`, admin),
      await call('POST', '/api/auth/namespace/save', auth, { apns_list: [{ name: 'x', token_key: `${password} SECRETTOKENKEY05` }] }),
      await call('POST', '/api/auth/namespace/save', auth, { key: '/elsewhere', callback_auth: SECRETS.callback_auth }),
      await save({ key: nsp, auth_passwd: 7, callback_auth: SECRETS.callback_auth }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 400, 400, 400]);
    for (const answer of answers) {
      for (const marker of [...markers, hash!]) expect(answer.text).not.toContain(marker);
    }
  });
});

describe('POST /api/auth/namespace/save', () => {
  const own = basic('/self', 'self-pw');

  beforeAll(async () => {
    expect((await save({ key: '/self', auth_passwd: 'self-pw' })).status).toBe(200);
    expect((await save({ key: '/neighbour', auth_passwd: 'n-pw', name: 'Neighbour' })).status).toBe(200);
  });

  test.each([
    [{ key: '/neighbour', name: 'taken over' }, 'NAMESPACE_KEY_MISMATCH', 'key must be the namespace of the credentials'],
    [{ key: '', name: 'x' }, 'NAMESPACE_KEY_MISMATCH', 'key must be the namespace of the credentials'],
    [{ key: 7 }, 'NAMESPACE_KEY_MISMATCH', 'key must be the namespace of the credentials'],
    [[], 'BODY_INVALID', 'request body invalid: body must be a JSON object'],
    [{ colour: 'red' }, 'BODY_INVALID', 'request body invalid: / has unknown field "colour"'],
    [{ offline: true }, 'BODY_INVALID', 'request body invalid: /offline must be string'],
    [{ apns_list: [{ name: 'a', apns_dev_key: 'nope' }] }, 'BODY_INVALID', 'request body invalid: /apns_list/0/apns_dev_key must be a PEM block'],
  ])('%j → %s, and nothing changes', async (payload, code, msg) => {
    const before = await snapshot();
    const response = await call('POST', '/api/auth/namespace/save', own, payload);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ code, msg });
    expect(await snapshot()).toEqual(before);
  });

  test('the key is forced to the caller: its own settings change, its neighbour’s do not', async () => {
    const neighbour = await redis.hgetall(keys.namespace('/neighbour'));
    expect((await call('POST', '/api/auth/namespace/save', own, { name: 'Self', apns_list: [{ name: 'mine', apns_env: 'dev' }] })).status).toBe(200);
    expect((await call('POST', '/api/auth/namespace/save', own, { key: '/self', connect_callback: 'https://example.com/c' })).status).toBe(200);
    const view = (await call('GET', '/api/auth/namespace', own)).body;
    expect(view).toMatchObject({ key: '/self', name: 'Self', connect_callback: 'https://example.com/c', apns_list: [{ name: 'mine', apns_env: 'dev' }] });
    expect(await redis.hgetall(keys.namespace('/neighbour'))).toEqual(neighbour);
    // Merged by name exactly as the admin save does.
    expect((await call('POST', '/api/auth/namespace/save', own, { apns_list: [{ name: 'mine', apns_topic: 't' }, { name: 'second' }] })).status).toBe(200);
    expect(await apnsList('/self')).toEqual([{ name: 'mine', apns_env: 'dev', apns_topic: 't' }, { name: 'second' }]);
  });

  test('a namespace can change its own password', async () => {
    const changer = basic('/self-pw', 'old-pw');
    expect((await save({ key: '/self-pw', auth_passwd: 'old-pw' })).status).toBe(200);
    expect((await call('POST', '/api/auth/namespace/save', changer, { auth_passwd: 'new-pw' })).status).toBe(200);
    expect((await call('POST', '/api/auth/login', basic('/self-pw', 'new-pw'))).status).toBe(200);
    expect((await call('POST', '/api/auth/login', changer)).body).toEqual({ code: 'PASSWD_ERROR', msg: 'passwd error' });
  });
});

describe('max_client_rooms in namespace saves', () => {
  test('sets the most rooms a client may join; shown when set (unset: 1000); another save without it keeps it', async () => {
    expect((await save({ key: '/capped', auth_passwd: 'pw' })).status).toBe(200);
    const own = basic('/capped', 'pw');
    expect((await call('GET', '/api/auth/namespace', own)).body).not.toHaveProperty('max_client_rooms');
    expect((await new NamespaceStore(redis, keys).settings('/capped'))!.maxClientRooms).toBe(1000);
    expect((await save({ key: '/capped', max_client_rooms: 3 })).status).toBe(200);
    expect((await call('GET', '/api/auth/namespace', own)).body).toMatchObject({ max_client_rooms: 3 });
    expect((await call('POST', '/api/auth/namespace/save', own, { name: 'Capped' })).status).toBe(200);
    const view = await call('GET', '/api/admin/namespace/list?key=%2Fcapped', admin);
    expect(view.body.list[0]).toMatchObject({ key: '/capped', max_client_rooms: 3 });
  });

  test.each([[0], [10_001], [2.5], ['3'], [null]])('max_client_rooms %j → BODY_INVALID, and nothing changes', async (value) => {
    const before = await snapshot();
    const response = await save({ key: '/capped', max_client_rooms: value });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('BODY_INVALID');
    expect(response.body.msg).toContain('/max_client_rooms');
    expect(await snapshot()).toEqual(before);
  });
});

describe('inbox_platforms in namespace saves', () => {
  test('sets which platforms get an inbox; shown when set; another save without it keeps it', async () => {
    expect((await save({ key: '/inbox', auth_passwd: 'pw' })).status).toBe(200);
    const own = basic('/inbox', 'pw');
    expect((await call('GET', '/api/auth/namespace', own)).body).not.toHaveProperty('inbox_platforms');
    expect((await save({ key: '/inbox', inbox_platforms: ['android', 'web'] })).status).toBe(200);
    expect(await redis.hget(keys.namespace('/inbox'), 'inbox_platforms')).toBe('android,web');
    expect((await call('GET', '/api/auth/namespace', own)).body).toMatchObject({ inbox_platforms: ['android', 'web'] });
    expect((await call('POST', '/api/auth/namespace/save', own, { name: 'Inbox' })).status).toBe(200);
    expect((await new NamespaceStore(redis, keys).get('/inbox'))!.inboxPlatforms).toEqual(['android', 'web']);
    expect((await call('POST', '/api/auth/namespace/save', own, { inbox_platforms: ['ios'] })).status).toBe(200);
    expect((await call('GET', '/api/auth/namespace', own)).body).toMatchObject({ inbox_platforms: ['ios'] });
  });

  test.each([
    [{ inbox_platforms: ['tv'] }, 'request body invalid: /inbox_platforms/0 must be equal to one of the allowed values'],
    [{ inbox_platforms: [] }, 'request body invalid: /inbox_platforms must NOT have fewer than 1 items'],
    [{ inbox_platforms: ['web', 'web'] }, 'request body invalid: /inbox_platforms must NOT have duplicate items (items ## 1 and 0 are identical)'],
    [{ inbox_platforms: 'web' }, 'request body invalid: /inbox_platforms must be array'],
  ])('%j → BODY_INVALID, and nothing changes', async (payload, msg) => {
    const before = await snapshot();
    const response = await save({ key: '/inbox', ...payload });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ code: 'BODY_INVALID', msg });
    expect(await snapshot()).toEqual(before);
  });
});

describe('GET /api/admin/namespace/list', () => {
  const names = ['/list-a', '/list-b', '/list-c', '/list-d', '/list-e'];

  beforeAll(async () => {
    for (const [i, key] of names.entries()) {
      expect((await save({ key, name: i % 2 === 0 ? `Even ${i}` : `Odd ${i}`, offline: i < 2 ? 'on' : 'off' })).status).toBe(200);
    }
  });

  const list = async (query: string) => {
    const response = await call('GET', `/api/admin/namespace/list?${query}`, admin);
    expect(response.status).toBe(200);
    return response.body as { list: { key: string; [field: string]: unknown }[]; total: number };
  };

  test('key and name are substring filters; offline on|off|all; entries in key order', async () => {
    expect(await list('key=list-')).toEqual({ list: names.map((key) => expect.objectContaining({ key })), total: 5 });
    expect((await list('key=list-&name=Even')).list.map((e) => e.key)).toEqual(['/list-a', '/list-c', '/list-e']);
    expect((await list('key=list-&offline=on')).list.map((e) => e.key)).toEqual(['/list-a', '/list-b']);
    expect((await list('key=list-&offline=off')).list.map((e) => e.key)).toEqual(['/list-c', '/list-d', '/list-e']);
    expect((await list('key=list-&offline=all')).total).toBe(5);
    expect(await list('key=list-&name=nobody')).toEqual({ list: [], total: 0 });
    expect((await list('key=st-c')).list.map((e) => e.key)).toEqual(['/list-c']);
  });

  test('paging: total counts every match, the page holds pageSize of them', async () => {
    expect(await list('key=list-&page=2&pageSize=2')).toEqual({ list: [expect.objectContaining({ key: '/list-c' }), expect.objectContaining({ key: '/list-d' })], total: 5 });
    expect((await list('key=list-&page=3&pageSize=2')).list.map((e) => e.key)).toEqual(['/list-e']);
    expect(await list('key=list-&page=4&pageSize=2')).toEqual({ list: [], total: 5 });
    // Defaults: page 1, 20 per page.
    const all = await list('');
    expect(all.list.length).toBe(Math.min(all.total, 20));
  });

  test('online=true merges roomCount (normal rooms with someone online), userCount and clientCount', async () => {
    const scripts = new Scripts(redis);
    const clients = new ClientStore(redis, keys, scripts);
    const rooms = new RoomStore(redis, keys, scripts);
    const connect = async (userid: string, uuid: string, joined: string[]) => {
      const clientId = `/list-c#${userid}#web-${uuid}`;
      await clients.connected(clientId, { namespace: '/list-c', userid, uuid, platform: 'web', sid: uuid, connector: 'test' });
      for (const room of [`user_${userid}`, ...joined]) await rooms.join('/list-c', room, { clientId, userid, platform: 'web' }, uuid);
      return clientId;
    };
    await connect('u1', 'a', ['r1', 'r2']);
    await connect('u1', 'b', ['r1']);
    const gone = await connect('u2', 'c', ['r3']);
    // u2 leaves: r3 stays in the room index with nobody online, so it does not count.
    await rooms.offline('/list-c', 'r3', { clientId: gone, userid: 'u2', platform: 'web' }, 'c');
    await rooms.offline('/list-c', 'user_u2', { clientId: gone, userid: 'u2', platform: 'web' }, 'c');
    await clients.disconnected(gone, { namespace: '/list-c', userid: 'u2', sid: 'c', connector: 'test' }, 'network');

    const entries = (await list('key=list-&online=1')).list;
    expect(entries.find((e) => e.key === '/list-c')).toMatchObject({ roomCount: 2, userCount: 1, clientCount: 2 });
    expect(entries.find((e) => e.key === '/list-d')).toMatchObject({ roomCount: 0, userCount: 0, clientCount: 0 });
    expect((await list('key=list-&online=false')).list[0]).not.toHaveProperty('clientCount');
  });

  test.each([
    ['foo=1', 'request query invalid: unknown parameter foo'],
    ['page=0', 'request query invalid: page must be an integer from 1 to 1000000'],
    ['page=1.5', 'request query invalid: page must be an integer from 1 to 1000000'],
    ['page=abc', 'request query invalid: page must be an integer from 1 to 1000000'],
    ['page=-1', 'request query invalid: page must be an integer from 1 to 1000000'],
    ['pageSize=0', 'request query invalid: pageSize must be an integer from 1 to 100'],
    ['pageSize=101', 'request query invalid: pageSize must be an integer from 1 to 100'],
    ['pageSize=1e1', 'request query invalid: pageSize must be an integer from 1 to 100'],
    ['offline=maybe', 'request query invalid: offline must be on, off or all'],
    ['online=yes', 'request query invalid: online must be true or false'],
    ['page=1&page=2', 'request query invalid: page given more than once'],
    [`key=${'k'.repeat(101)}`, 'request query invalid: key must be at most 100 characters'],
    [`name=${'n'.repeat(101)}`, 'request query invalid: name must be at most 100 characters'],
  ])('%s → 400 QUERY_INVALID', async (query, msg) => {
    const response = await call('GET', `/api/admin/namespace/list?${query}`, admin);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ code: 'QUERY_INVALID', msg });
  });
});

describe('clean-up routes: requests', () => {
  beforeAll(async () => {
    expect((await save({ key: '/live' })).status).toBe(200);
  });

  test.each([
    ['GET', '/api/admin/namespace/clear/live'],
    ['GET', '/api/admin/namespace/clear/%2Flive'],
    ['GET', '/api/admin/namespace/flush/live'],
    ['GET', '/api/admin/namespace/del/%2Flive?flushAll=true'],
    ['GET', '/api/admin/namespace/del/live'],
    ['POST', '/api/admin/namespace/clear-realtime-data'],
    ['POST', '/api/admin/clear-legacy-client'],
  ] as const)('%s %s on a namespace that is not offline → 400 namespace must be set offline on', async (method, url) => {
    const before = await snapshot();
    const response = await call(method, url, admin, method === 'POST' ? { namespace: '/live' } : undefined);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ code: 'NAMESPACE_MUST_BE_OFFLINE', msg: 'namespace must be set offline on' });
    expect(await snapshot()).toEqual(before);
  });

  test.each([
    ['GET', '/api/admin/namespace/clear/nope', undefined, 'NAMESPACE_NOT_FOUND', 'namespace not found'],
    ['GET', '/api/admin/namespace/flush/%2Fnope', undefined, 'NAMESPACE_NOT_FOUND', 'namespace not found'],
    ['GET', '/api/admin/namespace/clear/a%20b', undefined, 'NAMESPACE_INVALID', 'namespace invalid'],
    ['GET', `/api/admin/namespace/clear/${'x'.repeat(50)}`, undefined, 'NAMESPACE_INVALID', 'namespace invalid'],
    ['GET', '/api/admin/namespace/clear/live?x=1', undefined, 'QUERY_INVALID', 'request query invalid: unknown parameter x'],
    ['GET', '/api/admin/namespace/del/live?flushAll=maybe', undefined, 'QUERY_INVALID', 'request query invalid: flushAll must be true or false'],
    ['POST', '/api/admin/namespace/clear-realtime-data', {}, 'NAMESPACE_EMPTY', 'namespace can not be empty'],
    ['POST', '/api/admin/namespace/clear-realtime-data', { namespace: '' }, 'NAMESPACE_EMPTY', 'namespace can not be empty'],
    ['POST', '/api/admin/namespace/clear-realtime-data', { namespace: 'live' }, 'NAMESPACE_INVALID', 'namespace invalid'],
    ['POST', '/api/admin/namespace/clear-realtime-data', { namespace: 5 }, 'NAMESPACE_INVALID', 'namespace invalid'],
    ['POST', '/api/admin/namespace/clear-realtime-data', { namespace: '/live', x: 1 }, 'BODY_INVALID', 'request body invalid: / has unknown field "x"'],
    ['POST', '/api/admin/namespace/clear-realtime-data', { namespace: '/nope' }, 'NAMESPACE_NOT_FOUND', 'namespace not found'],
    ['POST', '/api/admin/clear-legacy-client', [], 'BODY_INVALID', 'request body invalid: body must be a JSON object'],
    ['POST', '/api/admin/clear-legacy-client', { namespace: '/nope' }, 'NAMESPACE_NOT_FOUND', 'namespace not found'],
  ] as const)('%s %s %j → %s', async (method, url, payload, code, msg) => {
    const before = await snapshot();
    const response = await call(method, url, admin, payload);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ code, msg });
    expect(await snapshot()).toEqual(before);
  });

  test('the key may come with or without its "/", URL-encoded; a "\\" in it is a name character, not a pattern', async () => {
    const scripts = new Scripts(redis);
    const messages = new MessageStore(redis, keys, scripts);
    for (const nsp of ['/esc', '/esc\\', '/escape']) {
      expect((await save({ key: nsp, offline: 'on' })).status).toBe(200);
      await messages.store(nsp, { room: 'r', pushData: { nsp }, expire: 1, leaveMessage: false, apnsName: undefined, except: undefined, extra: undefined });
    }
    // The namespace's tagged keys but its id counter, which a clear keeps (ids never restart).
    const tagged = async (nsp: string) =>
      (await redis.keys('*')).filter((key) => key.startsWith(`h:{${nsp}}:`) && key !== keys.messageSeq(nsp)).sort();
    const untouched = { esc: await tagged('/esc'), escape: await tagged('/escape') };
    expect(untouched.esc.length).toBeGreaterThan(0);

    // `/esc\` as `esc%5C`: an unescaped MATCH `h:{/esc\}:*` would match `/esc`'s keys.
    const cleared = await call('GET', '/api/admin/namespace/clear/esc%5C', admin);
    expect(cleared).toMatchObject({ status: 200, body: { deletedKeys: expect.any(Number) } });
    expect(cleared.body.deletedKeys).toBeGreaterThan(0);
    expect(await tagged('/esc\\')).toEqual([]);
    expect({ esc: await tagged('/esc'), escape: await tagged('/escape') }).toEqual(untouched);

    // `/esc` as `%2Fesc`: its keys go, `/escape`'s stay.
    expect((await call('GET', '/api/admin/namespace/clear/%2Fesc', admin)).status).toBe(200);
    expect(await tagged('/esc')).toEqual([]);
    expect(await tagged('/escape')).toEqual(untouched.escape);
    expect(await redis.exists(keys.namespace('/esc'), keys.namespace('/esc\\'))).toBe(2);
  });
});
