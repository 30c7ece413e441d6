import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { START_POSTGRES_HINT } from '../postgres-store.js';

/** The test server: the local cluster's `test` database with trust auth, unless the environment names another. */
export const TEST_POSTGRES_URL =
  process.env.HEADROOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Schemas of one test file: a random prefix, one numbered schema per store opened. */
export interface TestSchemas {
  readonly prefix: string;
  /** A schema name no other store has used. */
  next(): string;
  /** `url` with `?schema=` set to a fresh schema. */
  nextUrl(url?: string): string;
  /** Drops every schema of this file, tables and all. */
  dropAll(url?: string): Promise<void>;
}

export function testSchemas(): TestSchemas {
  const prefix = `hrm_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let count = 0;
  const next = (): string => `${prefix}_${++count}`;
  return {
    prefix,
    next,
    nextUrl: (url = TEST_POSTGRES_URL) => withSchema(url, next()),
    async dropAll(url = TEST_POSTGRES_URL) {
      if (count === 0) return;
      const client = new Client({ connectionString: url });
      try {
        await client.connect();
      } catch (err) {
        throw new Error(
          `cannot reach the test PostgreSQL at ${url} to drop schemas ${prefix}_*; start it with: ${START_POSTGRES_HINT}`,
          { cause: err },
        );
      }
      try {
        const { rows } = await client.query<{ nspname: string }>(
          'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
          [`${prefix}_`],
        );
        for (const { nspname } of rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** `url` with its `schema` query parameter set. */
export function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}
