import { RecentSet } from '../src/core/recent-set';

test('remembers the last `capacity` keys and forgets the oldest first', () => {
  const recent = new RecentSet(3);
  expect(['a', 'b', 'c'].map((key) => recent.add(key))).toEqual([true, true, true]);
  expect(recent.add('b')).toBe(false); // present: nothing changes, 'a' stays the oldest
  expect(recent.add('d')).toBe(true);
  expect(['a', 'b', 'c', 'd'].map((key) => recent.has(key))).toEqual([false, true, true, true]);
  expect(recent.size).toBe(3);
  recent.add('e');
  recent.add('f');
  expect(['b', 'c', 'd', 'e', 'f'].map((key) => recent.has(key))).toEqual([false, false, true, true, true]);
  // A forgotten key is new again.
  expect(recent.add('a')).toBe(true);
  expect(recent.has('d')).toBe(false);
});

test('stays exact over many times its capacity', () => {
  const recent = new RecentSet(1000);
  for (let i = 0; i < 25_000; i++) recent.add(`k${i}`);
  expect(recent.size).toBe(1000);
  expect(recent.has('k23999')).toBe(false);
  expect(recent.has('k24000')).toBe(true);
  expect(recent.has('k24999')).toBe(true);
});

test('refuses a capacity that is not a positive integer', () => {
  expect(() => new RecentSet(0)).toThrow(RangeError);
  expect(() => new RecentSet(1.5)).toThrow(RangeError);
});
