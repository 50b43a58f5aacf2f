/**
 * The chat protocol's wire contract (seed 004): its namespace settings spec and defaults, and its
 * payload schemas at their bounds. The events themselves run in tests/chat.test.ts.
 */
import {
  CHAT_DEFAULTS,
  ConversationAddPayload,
  DeviceRegisterPayload,
  DirectPayload,
  LogInPayload,
  MAX_CHAT_TARGETS,
  chatClientId,
  chatDeviceClientId,
  chatSettingsOf,
  checkProtocolSettings,
  compileValidator,
  publicProtocolSettings,
} from '../src';

describe('settings', () => {
  test('defaults: a day of token, the seed’s alert title and sound, the default APNs configuration, 10 hours of inbox, 200 recipients a second', () => {
    expect(chatSettingsOf({})).toEqual({ session_token_ttl: 86_400, apns_title: '您有一条未读消息', apns_sound: 'default', apns_name: undefined, message_expire: 10, send_rate: 200 });
    expect(chatSettingsOf(undefined)).toEqual(chatSettingsOf({}));
    expect(CHAT_DEFAULTS.apns_title).toBe('您有一条未读消息');
  });

  test('stored values win; a stored value of the wrong type falls back to the default', () => {
    expect(chatSettingsOf({ session_token_ttl: 600, apns_title: 'New', apns_name: 'prod', message_expire: 0.5 })).toMatchObject({
      session_token_ttl: 600,
      apns_title: 'New',
      apns_name: 'prod',
      message_expire: 0.5,
    });
    expect(chatSettingsOf({ session_token_ttl: '600', apns_title: 7 })).toMatchObject({ session_token_ttl: 86_400, apns_title: '您有一条未读消息' });
  });

  test.each([
    [{ session_token_ttl: 60 }, undefined],
    [{ session_token_ttl: 2_592_000 }, undefined],
    [{ session_token_ttl: 59 }, '/session_token_ttl must be >= 60'],
    [{ session_token_ttl: 1.5 }, '/session_token_ttl must be integer'],
    [{ apns_title: '' }, '/apns_title must NOT have fewer than 1 characters'],
    [{ apns_name: 'a b' }, '/apns_name must match pattern'],
    [{ message_expire: 0 }, '/message_expire must be > 0'],
    [{ message_expire: 11 }, '/message_expire must be <= 10'],
    [{ send_rate: 0 }, '/send_rate must be >= 1'],
    [{ send_rate: 100_000 }, undefined],
    [{ force_user_auth: true }, '/force_user_auth is not a setting of protocol chat'],
    [{ apns_title: null }, undefined],
  ])('the namespace save checks %j: %s', (change, problem) => {
    const answer = checkProtocolSettings('chat', change);
    if (problem === undefined) expect(answer).toBeUndefined();
    else expect(answer).toContain(problem);
  });

  test('no chat setting is a secret: all are shown', () => {
    expect(publicProtocolSettings('chat', { session_token_ttl: 600, apns_title: 'x' })).toEqual({ session_token_ttl: 600, apns_title: 'x' });
  });
});

describe('payloads', () => {
  const logIn = compileValidator(LogInPayload);
  const direct = compileValidator(DirectPayload);
  const add = compileValidator(ConversationAddPayload);
  const device = compileValidator(DeviceRegisterPayload);

  test('logIn: both fields, a user id, nothing else', () => {
    expect(logIn({ userId: 'junwu', socketId: '0JqMRoLQv8q3HFw8AAAG' })).toBe(true);
    expect(logIn({ userId: 'junwu' })).toBe(false);
    expect(logIn({ userId: 'a b', socketId: 's' })).toBe(false);
    expect(logIn({ userId: 'x'.repeat(101), socketId: 's' })).toBe(false);
    expect(logIn({ userId: 'junwu', socketId: 's', extra: 1 })).toBe(false);
  });

  test('message/direct: 1 to 1000 user ids; other fields travel as metaData', () => {
    expect(direct({ sessionToken: 't', targetIds: ['weichi'], type: 'text', textContent: '你是猴子么？', anything: { x: 1 } })).toBe(true);
    expect(direct({ sessionToken: 't', targetIds: [] })).toBe(false);
    expect(direct({ sessionToken: 't', targetIds: Array.from({ length: MAX_CHAT_TARGETS + 1 }, (_, i) => `u${i}`) })).toBe(false);
    expect(direct({ targetIds: ['weichi'] })).toBe(false);
  });

  test('conversation/add and device/register', () => {
    expect(add({ sessionToken: 't', name: '吃货小分队', members: ['uyi', 'lkl'], admin: ['xyz'], protected: ['name'], atr1: 'value' })).toBe(true);
    expect(add({ sessionToken: 't', members: 'uyi' })).toBe(false);
    expect(device({ sessionToken: 't', deviceToken: 'ab'.repeat(32) })).toBe(true);
    expect(device({ sessionToken: 't', deviceToken: null })).toBe(true);
    expect(device({ sessionToken: 't', deviceToken: 'not hex at all!' })).toBe(false);
  });

  test('client ids: one web client per user for its sockets, one iOS client for its device', () => {
    expect(chatClientId('/chat', 'junwu')).toBe('/chat#junwu#web-chat');
    expect(chatDeviceClientId('/chat', 'junwu')).toBe('/chat#junwu#ios-chat');
    expect(chatClientId('/chat', 'a#b')).toBe('/chat#a%23b#web-chat');
  });
});
