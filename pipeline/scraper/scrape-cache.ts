import type { Redis } from 'ioredis';
import type { ScrapeResult } from './scrape-result.js';

/**
 * A cache of scraped pages by URL, so a site listed in many rows (or uploaded again) is fetched once
 * per TTL. Only successful scrapes are cached: a failure may be transient.
 */
export interface ScrapeCache {
  readonly kind: string;
  get(url: string): Promise<ScrapeResult | undefined>;
  set(url: string, page: ScrapeResult): Promise<void>;
  close(): Promise<void>;
}

/** In-process LRU with a TTL: Map keeps insertion order, so the first key is the least recent. */
export class MemoryScrapeCache implements ScrapeCache {
  readonly kind = 'memory';
  private readonly entries = new Map<string, { page: ScrapeResult; expiresAtMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async get(url: string): Promise<ScrapeResult | undefined> {
    const entry = this.entries.get(url);
    if (!entry) return undefined;
    this.entries.delete(url);
    if (entry.expiresAtMs <= this.nowMs()) return undefined;
    this.entries.set(url, entry);
    return entry.page;
  }

  async set(url: string, page: ScrapeResult): Promise<void> {
    this.entries.delete(url);
    this.entries.set(url, { page, expiresAtMs: this.nowMs() + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

/** Shared by every worker process: Redis keys with an expiry (`SET … EX`), evicted by Redis itself. */
export class RedisScrapeCache implements ScrapeCache {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly prefix: string,
  ) {}

  static async connect(url: string, ttlSeconds: number, prefix = 'headroom'): Promise<RedisScrapeCache> {
    const { Redis } = await import('ioredis');
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 3_000 });
    await redis.connect();
    return new RedisScrapeCache(redis, ttlSeconds, prefix);
  }

  async get(url: string): Promise<ScrapeResult | undefined> {
    const text = await this.redis.get(this.key(url));
    return text ? (JSON.parse(text) as ScrapeResult) : undefined;
  }

  async set(url: string, page: ScrapeResult): Promise<void> {
    await this.redis.set(this.key(url), JSON.stringify(page), 'EX', this.ttlSeconds);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private key(url: string): string {
    return `${this.prefix}:scrape-cache:${url}`;
  }
}
