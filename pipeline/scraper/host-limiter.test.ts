import { describe, expect, it } from 'vitest';
import { HostLimiter } from './host-limiter.js';

describe('HostLimiter', () => {
  it('grants up to the limit at once and makes the next caller wait', () => {
    const limiter = new HostLimiter(2);
    expect(limiter.tryAcquire('a')).toBe(true);
    expect(limiter.tryAcquire('a')).toBe(true);
    expect(limiter.tryAcquire('a')).toBe(false);
    expect(limiter.tryAcquire('b')).toBe(true);
  });

  it('passes a released slot to the oldest waiter', async () => {
    const limiter = new HostLimiter(1);
    await limiter.acquire('a');
    const order: string[] = [];
    const first = limiter.acquire('a').then(() => order.push('first'));
    const second = limiter.acquire('a').then(() => order.push('second'));
    limiter.release('a');
    await first;
    expect(order).toEqual(['first']);
    expect(limiter.tryAcquire('a')).toBe(false);
    limiter.release('a');
    await second;
    expect(order).toEqual(['first', 'second']);
  });

  it('forgets a host once it has no holders and no waiters', async () => {
    const limiter = new HostLimiter(1);
    for (let i = 0; i < 1_000; i++) {
      await limiter.acquire(`host-${i}`);
      limiter.release(`host-${i}`);
    }
    expect(limiter.hosts).toBe(0);
  });

  it('refuses a release without an acquire', () => {
    expect(() => new HostLimiter(1).release('a')).toThrow('release of a without a matching acquire');
  });
});
