/** Pieces of the sessions protocol that need no Redis: the keyspace flags merge and the rate-limited log. */
import type { Logger } from '@herald/log';
import { mergedKeyspaceFlags } from '../src/protocols/sessions/app-redis';
import { ReasonLog } from '../src/protocols/sessions/reason-log';

describe('mergedKeyspaceFlags', () => {
  test.each([
    ['', 'Kg$xe'],
    ['Ex', 'ExKg$e'],
    ['KA', undefined],
    ['AK', undefined],
    ['Kg$xe', undefined],
    ['KEA', undefined],
    ['Elg', 'ElgK$xe'],
  ])('%j → %j (flags already set are kept)', (current, merged) => {
    expect(mergedKeyspaceFlags(current)).toBe(merged);
  });
});

describe('ReasonLog', () => {
  test('one line per reason and period, then how many were suppressed', () => {
    const lines: unknown[][] = [];
    const logger = { warn: (...args: unknown[]) => lines.push(args) } as unknown as Logger;
    let now = 0;
    const log = new ReasonLog(logger, 1000, () => now);
    log.warn('a', { channel: 'n' }, 'ignored');
    log.warn('a', { channel: 'n' }, 'ignored');
    log.warn('b', { channel: 'n' }, 'ignored');
    log.warn('a', { channel: 'n' }, 'ignored');
    now = 1000;
    log.warn('a', { channel: 'n' }, 'ignored');
    expect(lines).toEqual([
      [{ channel: 'n', reason: 'a' }, 'ignored'],
      [{ channel: 'n', reason: 'b' }, 'ignored'],
      [{ channel: 'n', reason: 'a', suppressed: 2 }, 'ignored'],
    ]);
  });
});
