import { AckPushPayload, RoomsPayload, clientIdOf, compileValidator, isValidName } from '../src';

test('names follow the seed’s key_reg and length limits', () => {
  expect(isValidName('room', 'r-1.a$b#c/d\\e_f')).toBe(true);
  expect(isValidName('room', 'x'.repeat(100))).toBe(true);
  expect(isValidName('room', 'x'.repeat(101))).toBe(false);
  for (const bad of ['', 'a b', 'a{b}', 'a|b', 'a:b', 'ü', null, 1]) expect(isValidName('room', bad)).toBe(false);
  expect(isValidName('namespace', '/demo')).toBe(true);
  expect(isValidName('namespace', 'demo')).toBe(false);
  expect(isValidName('namespace', '/' + 'x'.repeat(50))).toBe(false);
});

test('clientId = <namespace>#<userid>#<platform>-<uuid>', () => {
  expect(clientIdOf('/demo', 'u001', 'ios', 'edgw453')).toBe('/demo#u001#ios-edgw453');
  // `-` needs no escape (platforms hold none); a `#` in the namespace stays, it is left of the last two.
  expect(clientIdOf('/a-b#c', 'u-1', 'web', 'd-2')).toBe('/a-b#c#u-1#web-d-2');
});

test('a # in the user id or uuid is escaped, so two identities never share a clientId', () => {
  const ids = [
    clientIdOf('/t', 'x#u', 'web', 'd'),
    clientIdOf('/t#x', 'u', 'web', 'd'),
    clientIdOf('/t', 'a#web-b', 'web', 'c'),
    clientIdOf('/t', 'a', 'web', 'b#web-c'),
  ];
  expect(ids).toEqual(['/t#x%23u#web-d', '/t#x#u#web-d', '/t#a%23web-b#web-c', '/t#a#web-b%23web-c']);
  expect(new Set(ids).size).toBe(ids.length);
});

test('socket payload schemas reject wrong types and unknown fields without coercion', () => {
  const rooms = compileValidator(RoomsPayload);
  expect(rooms('r1')).toBe(true);
  expect(rooms(['r1', 'r2'])).toBe(true);
  expect(rooms([])).toBe(false);
  expect(rooms(['a b'])).toBe(false);
  expect(rooms(5)).toBe(false);
  const ack = compileValidator(AckPushPayload);
  expect(ack({ id: 5 })).toBe(true);
  expect(ack({ id: '5' })).toBe(true);
  expect(ack({ id: 0 })).toBe(false);
  expect(ack({ id: '05' })).toBe(false);
  expect(ack({ id: 1.5 })).toBe(false);
  expect(ack({ id: 5, extra: 1 })).toBe(false);
  expect(ack.lastError()).toBe('/ has unknown field "extra"');
});
