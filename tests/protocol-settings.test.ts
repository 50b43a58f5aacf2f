/**
 * Protocol settings (docs/api.md "Protocol settings"): the `settings` of a namespace save are
 * checked against the namespace's protocol, merged into the stored ones (`null` removes one), dropped
 * when the protocol changes, and their secrets are hashed or never shown.
 */
import { Type } from '@sinclair/typebox';
import { Keys, NamespaceStore, hashSecret, verifySecret } from '@herald/store';
import { checkProtocolSettings, publicProtocolSettings, type ProtocolSettingsSpec } from '@herald/wire';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { ADMIN, startStack, type Stack } from './support/stack';

/** A registry with one protocol that has settings, as a protocol module declares them. */
const registry: Partial<Record<'webservice', ProtocolSettingsSpec>> = {
  webservice: {
    schema: Type.Object(
      {
        auth_url: Type.Optional(Type.String({ maxLength: 200 })),
        api_key: Type.Optional(Type.String({ minLength: 16 })),
        redis_url: Type.Optional(Type.String()),
        ttl: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
    hashed: ['api_key'],
    writeOnly: ['redis_url'],
  },
};

describe('the settings spec of a protocol', () => {
  test('a known field of the right type passes; null passes for any field (it removes one)', () => {
    expect(checkProtocolSettings('webservice', { auth_url: 'http://a', ttl: 0 }, registry)).toBeUndefined();
    expect(checkProtocolSettings('webservice', { auth_url: null, api_key: null }, registry)).toBeUndefined();
  });

  test('an unknown field or a wrong type is named, without its value', () => {
    expect(checkProtocolSettings('webservice', { colour: 'red' }, registry)).toBe('/colour is not a setting of protocol webservice');
    expect(checkProtocolSettings('webservice', { ttl: -1 }, registry)).toBe('/ttl must be >= 0');
    expect(checkProtocolSettings('webservice', { api_key: 'short-secret' }, registry)).toBe('/api_key must NOT have fewer than 16 characters');
    // A protocol without a spec accepts no setting.
    expect(checkProtocolSettings('push', { ttl: 1 }, registry)).toBe('/ttl is not a setting of protocol push');
  });

  test('the public view shows secrets only as set', () => {
    const stored = { auth_url: 'http://a', api_key: hashSecret('k'.repeat(16)), redis_url: 'redis://:pw@h', ttl: 5 };
    expect(publicProtocolSettings('webservice', stored, registry)).toEqual({ auth_url: 'http://a', api_key_set: true, redis_url_set: true, ttl: 5 });
  });

  test('hashed secrets verify in constant time and only the right one', () => {
    const stored = hashSecret('the-right-key-0123');
    expect(stored).toMatch(/^sha256\$[0-9a-f]{64}$/);
    expect(verifySecret('the-right-key-0123', stored)).toBe(true);
    expect(verifySecret('the-wrong-key-0123', stored)).toBe(false);
    expect(verifySecret('the-right-key-0123', undefined)).toBe(false);
    expect(verifySecret('the-right-key-0123', 'scrypt$…')).toBe(false);
  });
});

describe('stored protocol settings (real Redis)', () => {
  let server: TestRedis;
  let redis: Redis;
  let store: NamespaceStore;
  const keys = new Keys('h:');

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    store = new NamespaceStore(redis, keys);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  test('a save merges into the stored settings, null removes a field, other fields stay', async () => {
    await store.save('/ps', { protocolSettings: { auth_url: 'http://a', ttl: 5 } });
    await store.save('/ps', { protocolSettings: { ttl: 7, extra: 'x' } });
    expect((await store.settings('/ps'))!.protocolSettings).toEqual({ auth_url: 'http://a', ttl: 7, extra: 'x' });
    await store.save('/ps', { protocolSettings: { extra: null } });
    expect((await store.settings('/ps'))!.protocolSettings).toEqual({ auth_url: 'http://a', ttl: 7 });
    // A save without settings leaves them alone.
    await store.save('/ps', { name: 'renamed' });
    expect((await store.get('/ps'))!.protocolSettings).toEqual({ auth_url: 'http://a', ttl: 7 });
  });

  test('a reset drops the stored settings before the change', async () => {
    await store.save('/ps2', { protocolSettings: { a: 1, b: 2 } });
    await store.save('/ps2', { protocolSettings: { c: 3 }, resetProtocolSettings: true });
    expect((await store.settings('/ps2'))!.protocolSettings).toEqual({ c: 3 });
    await store.save('/ps2', { resetProtocolSettings: true });
    expect((await store.settings('/ps2'))!.protocolSettings).toEqual({});
  });

  test('a stored value that is not a JSON object reads as no settings', async () => {
    await store.save('/ps3', {});
    await redis.hset(keys.namespace('/ps3'), 'protocol_settings', '[1,2');
    expect((await store.settings('/ps3'))!.protocolSettings).toEqual({});
    // And a later save starts from empty instead of failing.
    await store.save('/ps3', { protocolSettings: { a: 1 } });
    expect((await store.settings('/ps3'))!.protocolSettings).toEqual({ a: 1 });
  });
});

describe('the namespace save route', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ connectors: 0 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('settings the namespace protocol does not have: PROTOCOL_SETTINGS_INVALID and nothing saved', async () => {
    const answer = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/plain', auth_passwd: 'pw', settings: { auth_url: 'http://a' } } });
    expect(answer).toEqual({
      status: 400,
      body: { code: 'PROTOCOL_SETTINGS_INVALID', msg: 'protocol settings invalid: /auth_url is not a setting of protocol push' },
    });
    const list = await stack.api('/api/admin/namespace/list?key=/plain', { auth: ADMIN });
    expect(list.body).toEqual({ list: [], total: 0 });
  });

  test('settings that are not an object: BODY_INVALID', async () => {
    const answer = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/plain', settings: ['x'] } });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('BODY_INVALID');
  });

  test('a namespace without settings shows none', async () => {
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/plain2', auth_passwd: 'pw' } })).status).toBe(200);
    const list = await stack.api('/api/admin/namespace/list?key=/plain2', { auth: ADMIN });
    expect(list.body.list[0]).not.toHaveProperty('settings');
  });
});
