import { HeraldError, publicPushData, validatePushRequest } from '../src';

function refusal(body: unknown, offline = false): { code: string; msg: string; status: number } {
  try {
    validatePushRequest(body, offline);
  } catch (error) {
    expect(error).toBeInstanceOf(HeraldError);
    const e = error as HeraldError;
    return { ...e.toBody(), status: e.status };
  }
  throw new Error('accepted');
}

const ok = { room: 'r1', pushData: { a: 1 } };

describe('validatePushRequest: the seed’s order and messages', () => {
  test.each([
    [{}, 'ROOM_EMPTY', 'room can not be empty'],
    [{ room: '' }, 'ROOM_EMPTY', 'room can not be empty'],
    [{ room: 'a b', pushData: 'x' }, 'ROOM_INVALID', 'room invalid'],
    [{ room: 'x'.repeat(101) }, 'ROOM_INVALID', 'room invalid'],
    [{ room: 7 }, 'ROOM_INVALID', 'room invalid'],
    [{ room: 'r1' }, 'PUSH_DATA_INVALID', 'pushData can not be empty and must be an Object'],
    [{ room: 'r1', pushData: [1] }, 'PUSH_DATA_INVALID', 'pushData can not be empty and must be an Object'],
    [{ room: 'r1', pushData: null }, 'PUSH_DATA_INVALID', 'pushData can not be empty and must be an Object'],
    [{ ...ok, except: 3, expire: 99 }, 'EXCEPT_INVALID', 'except must be string'],
    [{ ...ok, expire: 0 }, 'EXPIRE_INVALID', 'expire invalid'],
    [{ ...ok, expire: -1 }, 'EXPIRE_INVALID', 'expire invalid'],
    [{ ...ok, expire: 10.5 }, 'EXPIRE_INVALID', 'expire invalid'],
    [{ ...ok, expire: '5' }, 'EXPIRE_INVALID', 'expire invalid'],
    [{ ...ok, leaveMessage: 'yes' }, 'LEAVE_MESSAGE_INVALID', 'leaveMessage must be boolean'],
    [{ ...ok, other: 1 }, 'UNKNOWN_FIELD', 'unknown field: other'],
    [[], 'BODY_INVALID', 'request body invalid: body must be a JSON object'],
  ])('%j → %s', (body, code, msg) => {
    expect(refusal(body)).toEqual({ code, msg, status: 400 });
  });

  test('an offline namespace is refused after except and before expire', () => {
    expect(refusal({ ...ok, expire: 99 }, true).code).toBe('NAMESPACE_OFFLINE');
    expect(refusal({ ...ok, except: 1 }, true).code).toBe('EXCEPT_INVALID');
    expect(refusal(ok, true).msg).toBe('this namespace offline');
  });

  test('apsData above 4000 bytes is refused only when the message is kept for offline delivery', () => {
    const apsData = { aps: { alert: 'é'.repeat(2000) } }; // 4000 bytes of UTF-8 plus the JSON around them
    expect(refusal({ room: 'r1', pushData: { apsData }, leaveMessage: true })).toEqual({
      code: 'APS_DATA_TOO_LARGE',
      msg: 'pushData.apsData size must be less then 4000 bytes',
      status: 400,
    });
    expect(validatePushRequest({ room: 'r1', pushData: { apsData } }, false).leaveMessage).toBe(false);
  });

  test('defaults and real booleans: "false" is false', () => {
    expect(validatePushRequest(ok, false)).toEqual({
      room: 'r1',
      pushData: { a: 1 },
      apnsName: undefined,
      leaveMessage: false,
      except: undefined,
      expire: 1,
      extra: undefined,
    });
    expect(validatePushRequest({ ...ok, leaveMessage: 'false' }, false).leaveMessage).toBe(false);
    expect(validatePushRequest({ ...ok, leaveMessage: 'true', expire: 10 }, false)).toMatchObject({ leaveMessage: true, expire: 10 });
  });

  test('a prototype-polluting key is just an unknown field', () => {
    const body = JSON.parse('{"room":"r1","pushData":{},"__proto__":{"polluted":true}}');
    expect(refusal(body).code).toBe('UNKNOWN_FIELD');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

test('publicPushData drops apsData without touching the original', () => {
  const pushData = { text: 'hi', apsData: { aps: {} } };
  expect(publicPushData(pushData)).toEqual({ text: 'hi' });
  expect(pushData).toHaveProperty('apsData');
});
