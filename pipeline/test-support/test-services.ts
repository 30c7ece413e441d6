import { randomUUID } from 'node:crypto';

/** The servers the driver tests talk to; .ci/run starts them when they are down. */
export const TEST_POSTGRES_URL =
  process.env.HEADROOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.HEADROOM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
const START_REDIS =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no';

/** A PostgreSQL URL on a fresh schema, and a function that drops it. Fails, never skips, when the server is down. */
export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `headroom_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const pg = await import('pg');
  const client = new pg.default.Client({
    connectionString: TEST_POSTGRES_URL,
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${TEST_POSTGRES_URL} is not answering (${(err as Error).message}); start it with: ${START_POSTGRES}`,
    );
  }
  await client.end();
  const separator = TEST_POSTGRES_URL.includes('?') ? '&' : '?';
  return {
    url: `${TEST_POSTGRES_URL}${separator}schema=${schema}`,
    drop: async () => {
      const c = new pg.default.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** A Redis queue URL with a fresh key prefix, and a function that deletes its keys. */
export async function freshRedis(
  extra = '',
): Promise<{ url: string; prefix: string; drop: () => Promise<void> }> {
  const prefix = `headroom-test-${randomUUID()}`;
  const { Redis } = await import('ioredis');
  const redis = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 3_000,
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `Redis at ${TEST_REDIS_URL} is not answering (${(err as Error).message}); start it with: ${START_REDIS}`,
    );
  }
  const separator = TEST_REDIS_URL.includes('?') ? '&' : '?';
  return {
    url: `${TEST_REDIS_URL}${separator}prefix=${prefix}${extra}`,
    prefix,
    drop: async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}
