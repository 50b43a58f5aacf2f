/**
 * The chat protocol's per-socket send budget (protocols/chat/messages.ts): a bucket of 1000
 * recipients refilled at the namespace's `send_rate` per second.
 */
import { SendBudget } from '../src/protocols/chat/messages';

test('a full bucket of 1000 recipients, refilled at the rate, never above 1000; a refusal takes nothing', () => {
  let now = 0;
  const budget = new SendBudget(() => now);
  expect(budget.take(1000, 10)).toBe(true);
  expect(budget.take(1, 10)).toBe(false);
  now += 100; // 0.1 s at 10/s: one recipient
  expect(budget.take(2, 10)).toBe(false);
  expect(budget.take(1, 10)).toBe(true);
  now += 1_000_000;
  expect(budget.take(1001, 10)).toBe(false);
  expect(budget.take(1000, 10)).toBe(true);
});
