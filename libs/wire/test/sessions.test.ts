/** The sessions protocol's payloads (seed 003): both notification forms, refusals by reason, settings. */
import { checkProtocolSettings, parseNotification, sessionIdOf, sessionsSettingsOf } from '../src';

describe('parseNotification', () => {
  test('the seed’s form {users, data}: every user gets `message data`', () => {
    expect(parseNotification('{"users":["user5",23],"data":{"a":"b"}}')).toEqual({ users: ['user5', '23'], message: { a: 'b' } });
    // Any JSON value is data, falsy ones included.
    expect(parseNotification('{"users":["u"],"data":0}')).toEqual({ users: ['u'], message: 0 });
    expect(parseNotification('{"users":["u"],"data":null}')).toEqual({ users: ['u'], message: null });
  });

  test('the seed HEAD’s form {users, type, payload, …}: everything but users', () => {
    expect(parseNotification('{"users":[1,1,2],"type":"chat","payload":{"x":1},"context":"c"}')).toEqual({ users: ['1', '2'], message: { type: 'chat', payload: { x: 1 }, context: 'c' } });
  });

  test.each([
    ['{', 'json_invalid'],
    ['', 'json_invalid'],
    ['[]', 'not_object'],
    ['null', 'not_object'],
    ['"users"', 'not_object'],
    ['{"data":1}', 'users_invalid'],
    ['{"users":"u","data":1}', 'users_invalid'],
    ['{"users":[null],"data":1}', 'users_invalid'],
    ['{"users":[""],"data":1}', 'users_invalid'],
    ['{"users":[{"id":1}],"data":1}', 'users_invalid'],
    ['{"users":["u"]}', 'data_missing'],
    ['{"users":["u"],"type":"t"}', 'payload_missing'],
  ])('%j is refused as %s', (text, reason) => {
    expect(parseNotification(text)).toBe(reason);
  });
});

describe('sessionIdOf', () => {
  test('a non-empty string (or a number, as its text) up to 256 characters', () => {
    expect(sessionIdOf({ sessionId: 'abc' })).toBe('abc');
    expect(sessionIdOf({ sessionId: 42 })).toBe('42');
    for (const payload of [undefined, null, 'abc', ['abc'], {}, { sessionId: '' }, { sessionId: { $ne: 1 } }, { sessionId: 'x'.repeat(257) }, { sessionId: Infinity }]) {
      expect(sessionIdOf(payload)).toEqual({ invalid: expect.any(String) });
    }
  });
});

describe('settings', () => {
  test('defaults are the seed’s; the Redis URL is optional', () => {
    expect(sessionsSettingsOf({})).toEqual({ keyPrefix: 'session-store-', redisUrl: undefined, channel: 'notifications' });
    expect(sessionsSettingsOf({ session_key_prefix: 'sess:', session_redis_url: 'redis://:pw@h:1/2', notifications_channel: 'n' })).toEqual({
      keyPrefix: 'sess:',
      redisUrl: 'redis://:pw@h:1/2',
      channel: 'n',
    });
  });

  test.each(['redis://127.0.0.1:6380', 'rediss://user:p%40ss@redis.example:6380/3', 'redis://[::1]:6390', 'h1:7000,h2:7001'])('session_redis_url %s is accepted', (url) => {
    expect(checkProtocolSettings('sessions', { session_redis_url: url })).toBeUndefined();
  });

  test.each(['http://h', 'redis://', 'redis://h:1/db', 'h1', 'redis://h x'])('session_redis_url %s is refused, without its value', (url) => {
    expect(checkProtocolSettings('sessions', { session_redis_url: url })).toBe('/session_redis_url must be redis://[:password@]host:port[/db] (or rediss://), or host:port,host:port,… for a Redis Cluster');
  });

  test('prefixes and channels cannot hold glob characters (they become a PSUBSCRIBE pattern)', () => {
    expect(checkProtocolSettings('sessions', { session_key_prefix: 'a*' })).toMatch(/^\/session_key_prefix must not contain/);
    expect(checkProtocolSettings('sessions', { notifications_channel: 'a b' })).toMatch(/^\/notifications_channel must not contain/);
    expect(checkProtocolSettings('sessions', { session_key_prefix: null, notifications_channel: 'n' })).toBeUndefined();
  });
});
