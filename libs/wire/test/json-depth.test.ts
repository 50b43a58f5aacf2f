import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../src/json-depth';
import { validatePushRequest } from '../src/push-request';

const nested = (levels: number): unknown => JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);

test('depth counts objects and arrays; scalars are free', () => {
  expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH))).toBe(false);
  expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH + 1))).toBe(true);
  expect(jsonDepthExceeds([[[1]]], 2)).toBe(true);
  expect(jsonDepthExceeds('text', 0)).toBe(false);
  // Iterative: 100 000 levels neither overflow nor pass.
  expect(jsonDepthExceeds(JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`))).toBe(true);
});

describe('validatePushRequest (REST and client pushes): a pushData too deep to store is JSON_TOO_DEEP', () => {
  test('5 000 levels → JSON_TOO_DEEP, not a stack overflow later', () => {
    expect(() => validatePushRequest({ room: 'r1', pushData: nested(5000) }, false)).toThrow(expect.objectContaining({ code: 'JSON_TOO_DEEP' }));
  });

  test('at pushData\'s place in the seed order: after room, before the offline namespace', () => {
    expect(() => validatePushRequest({ room: 'a b', pushData: nested(5000) }, false)).toThrow(expect.objectContaining({ code: 'ROOM_INVALID' }));
    expect(() => validatePushRequest({ room: 'r1', pushData: nested(5000) }, true)).toThrow(expect.objectContaining({ code: 'JSON_TOO_DEEP' }));
    expect(() => validatePushRequest({ room: 'r1', pushData: nested(5000), expire: 99 }, false)).toThrow(expect.objectContaining({ code: 'JSON_TOO_DEEP' }));
  });

  test('63 levels inside pushData (64 with the body) is a push', () => {
    expect(validatePushRequest({ room: 'r1', pushData: nested(62) as Record<string, unknown> }, false).room).toBe('r1');
  });
});
