import { loadConfig } from '../src';

/**
 * Seed 000's clients connect to `/` on socket.io's default path: HERALD_SOCKET_PATHS maps the
 * default path itself to the roomsync namespace (docs/protocols/roomsync.md).
 */
describe('HERALD_SOCKET_PATHS for roomsync', () => {
  test('the default path /socket.io may be mapped to a namespace, alone or beside other paths', () => {
    expect(loadConfig('connector', { HERALD_SOCKET_PATHS: '/socket.io=/chatroom' }).socketPaths).toEqual([{ path: '/socket.io', namespace: '/chatroom' }]);
    expect(loadConfig('connector', { HERALD_SOCKET_PATHS: '/socket.io=/chatroom,/push' }).socketPaths).toEqual([
      { path: '/socket.io', namespace: '/chatroom' },
      { path: '/push' },
    ]);
  });

  test('the same path cannot be mapped twice', () => {
    expect(() => loadConfig('connector', { HERALD_SOCKET_PATHS: '/socket.io=/chatroom,/socket.io' })).toThrow('HERALD_SOCKET_PATHS: "/socket.io" is listed twice');
  });
});
