import { describe, expect, it } from 'vitest';
import { roundOrders } from './trial-runner.js';

describe('round orders', () => {
  it('puts each side first in exactly half of every pair of rounds, reproducibly from the seed', () => {
    for (let seed = 0; seed < 50; seed++) {
      const orders = roundOrders(2, 10, seed);
      expect(orders).toEqual(roundOrders(2, 10, seed));
      for (let r = 0; r < 10; r += 2) expect(orders[r + 1]).toEqual([...orders[r]!].reverse());
      expect(orders.filter((o) => o[0] === 0)).toHaveLength(5);
    }
  });

  it('draws the first order of each pair at random, not always the same side', () => {
    const firsts = Array.from({ length: 40 }, (_, seed) => roundOrders(2, 2, seed)[0]![0]);
    expect(firsts.filter((i) => i === 0).length).toBeGreaterThan(10);
    expect(firsts.filter((i) => i === 1).length).toBeGreaterThan(10);
  });
});
