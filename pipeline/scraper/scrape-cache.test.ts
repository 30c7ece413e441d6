import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryScrapeCache, RedisScrapeCache } from './scrape-cache.js';
import type { ScrapeResult } from './scrape-result.js';

const REDIS_URL = process.env.HEADROOM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const page = (title: string): ScrapeResult => ({
  finalUrl: 'https://a.example/',
  httpStatus: 200,
  title,
  description: 'd',
  excerpt: 'e',
  bytesRead: 100,
  truncated: false,
  attempts: 1,
  durationMs: 5,
});

describe('MemoryScrapeCache', () => {
  it('returns a cached page until its TTL passes', async () => {
    let now = 1_000;
    const cache = new MemoryScrapeCache(60_000, 10, () => now);
    await cache.set('https://a.example/', page('A'));
    expect((await cache.get('https://a.example/'))?.title).toBe('A');
    now += 60_001;
    expect(await cache.get('https://a.example/')).toBeUndefined();
  });

  it('evicts the least recently used page past its size', async () => {
    const cache = new MemoryScrapeCache(60_000, 2);
    await cache.set('1', page('1'));
    await cache.set('2', page('2'));
    await cache.get('1');
    await cache.set('3', page('3'));
    expect(await cache.get('2')).toBeUndefined();
    expect((await cache.get('1'))?.title).toBe('1');
    expect((await cache.get('3'))?.title).toBe('3');
  });
});

describe('RedisScrapeCache', () => {
  it('shares pages through Redis with an expiry', async () => {
    const prefix = `headroom-test-${randomUUID()}`;
    let cache: RedisScrapeCache;
    try {
      cache = await RedisScrapeCache.connect(REDIS_URL, 3_600, prefix);
    } catch (err) {
      throw new Error(
        `Redis at ${REDIS_URL} is not answering (${(err as Error).message}); start it with: ` +
          `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`,
      );
    }
    onTestFinished(() => cache.close());
    const other = await RedisScrapeCache.connect(REDIS_URL, 3_600, prefix);
    onTestFinished(() => other.close());
    expect(await cache.get('https://b.example/')).toBeUndefined();
    await cache.set('https://b.example/', page('B'));
    expect(await other.get('https://b.example/')).toEqual(page('B'));
    const { Redis } = await import('ioredis');
    const raw = new Redis(REDIS_URL);
    onTestFinished(() => raw.disconnect());
    const ttl = await raw.ttl(`${prefix}:scrape-cache:https://b.example/`);
    expect(ttl).toBeGreaterThan(3_500);
    await raw.del(`${prefix}:scrape-cache:https://b.example/`);
  });
});
