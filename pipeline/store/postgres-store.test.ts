import { Client } from 'pg';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError, ErrorCode, StoreUnavailableError } from '../../errors.js';
import { openStore } from './open-store.js';
import { migratePostgres, POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { openPostgresStore, type PostgresStore, START_POSTGRES_HINT } from './postgres-store.js';
import type { NewWebsite, UploadId, WebsiteJob } from './store.js';
import { storeContract } from './store-contract.js';
import { TEST_POSTGRES_URL, testSchemas, withSchema } from './test-support/postgres-test-schema.js';

const url = TEST_POSTGRES_URL;
const schemas = testSchemas();
afterAll(() => schemas.dropAll());

/** A store on `schema` (a fresh one unless given), closed when the test ends. */
async function openFresh(schema = schemas.next(), pool?: { max?: number }): Promise<PostgresStore> {
  const store = await openPostgresStore(url, { schema, pool });
  onTestFinished(() => store.close());
  return store;
}

/** A plain connection to look at what the store wrote. */
async function inspect(): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  onTestFinished(() => client.end());
  return client;
}

/** An upload of `count` rows, ingest finished, written through `store`. */
async function seedUpload(store: PostgresStore, count: number): Promise<UploadId> {
  const user = await store.createUser(`owner-${Math.random()}@example.com`, 'hash');
  const uploadId = await store.createUpload(user.id, 'sites.csv');
  await store.insertWebsites(uploadId, websites(count));
  await store.finishIngest(uploadId, { rows: count, accepted: count, rejected: 0, rejections: [] });
  return uploadId;
}

describe('PostgresStore', () => storeContract(() => openStore(schemas.nextUrl(url))));

describe('PostgresStore driver', () => {
  it('never hands the same row to two pools claiming at the same time', async () => {
    const schema = schemas.next();
    const a = await openFresh(schema);
    const b = await openFresh(schema);
    const uploadId = await seedUpload(a, 1_000);
    const ids: number[] = [];
    for (;;) {
      const claims = await Promise.all([
        a.claimPending(uploadId, 11),
        b.claimPending(uploadId, 13),
        a.claimPending(uploadId, 17),
        b.claimPending(uploadId, 7),
      ]);
      // A claimer finds nothing only when every pending row is taken or locked by another claimer,
      // so a round where all four find nothing leaves no pending row.
      if (claims.every((c) => c.length === 0)) break;
      for (const c of claims) ids.push(...c.map((j) => j.websiteId));
    }
    expect(ids).toHaveLength(1_000);
    expect(new Set(ids).size).toBe(1_000);
  });

  it('keeps one message per website and counts it once when two pools save messages for the same rows', async () => {
    const schema = schemas.next();
    const a = await openFresh(schema);
    const b = await openFresh(schema);
    const uploadId = await seedUpload(a, 300);
    const jobs = await a.claimPending(uploadId, 300);
    // Half the rows are scraped first, half get their message before their scrape record.
    await a.saveScrapes(jobs.slice(0, 150).map(scrapeRecord));
    const fromA = jobs.map((j) => messageRecord(j, 'from a'));
    const fromB = [...jobs].reverse().map((j) => messageRecord(j, 'from b'));
    await Promise.all([
      a.saveMessages(fromA.slice(0, 150)),
      b.saveMessages(fromB.slice(0, 150)),
      a.saveMessages(fromA.slice(150)),
      b.saveMessages(fromB.slice(150)),
    ]);
    const upload = await a.getUpload(uploadId);
    expect(upload?.ai).toEqual({ done: 300, failed: 0 });
    expect(upload?.scrape).toEqual({ done: 300, failed: 0 });
    expect(await a.tallyUpload(uploadId)).toMatchObject({ rows: 300, messages: 300, duplicated: 0, lost: 0 });
    const db = await inspect();
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".messages`);
    expect(rows[0].n).toBe(300);
  });

  it('gives each row exactly one outcome when messages and failures for it race from two pools', async () => {
    const schema = schemas.next();
    const a = await openFresh(schema);
    const b = await openFresh(schema);
    const uploadId = await seedUpload(a, 400);
    const jobs = await a.claimPending(uploadId, 400);
    await a.saveScrapes(jobs.map(scrapeRecord));
    await Promise.all([
      a.saveMessages(jobs.map((j) => messageRecord(j))),
      b.saveFailures(
        [...jobs]
          .reverse()
          .map((j) => ({ websiteId: j.websiteId, uploadId, stage: 'ai' as const, reason: 'HTTP 500' })),
      ),
    ]);
    const upload = await a.getUpload(uploadId);
    const tally = await a.tallyUpload(uploadId);
    expect(upload!.ai.done + upload!.ai.failed).toBe(400);
    expect(tally.messages).toBe(upload!.ai.done);
    expect(tally.failed).toBe(upload!.ai.failed);
    expect(tally.lost).toBe(0);
    expect(upload?.scrape).toEqual({ done: 400, failed: 0 });
    expect(await a.completeUploadIfDone(uploadId)).toBe(true);
  });

  it('migrates a fresh schema once when several pools open it at the same time', async () => {
    const schema = schemas.next();
    const stores = await Promise.all([openFresh(schema), openFresh(schema), openFresh(schema)]);
    await stores[0]!.createUser('ada@example.com', 'h');
    expect(await stores[2]!.countUsers()).toBe(1);
    const db = await inspect();
    const { rows } = await db.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
  });

  it('applies nothing and keeps the data when a migrated schema is migrated again', async () => {
    const schema = schemas.next();
    const store = await openFresh(schema);
    await store.createUser('ada@example.com', 'h');
    const db = await inspect();
    await db.query(`SET search_path = ${schema}`);
    expect(await migratePostgres(db, schema)).toEqual([]);
    expect(await store.countUsers()).toBe(1);
    const reopened = await openFresh(schema);
    expect(await reopened.findUserByEmail('ada@example.com')).toMatchObject({ email: 'ada@example.com' });
  });

  it('refuses a schema written by a newer headroom with StoreUnavailableError', async () => {
    const schema = schemas.next();
    await (await openPostgresStore(url, { schema })).close();
    const db = await inspect();
    await db.query(
      `INSERT INTO "${schema}".schema_migrations (version, name) VALUES (999, 'from the future')`,
    );
    const opening = openPostgresStore(url, { schema });
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(opening).rejects.toThrow(/schema version 999/);
  });

  it('creates the indexes of the mirrored system under their names', async () => {
    const schema = schemas.next();
    await openFresh(schema);
    const db = await inspect();
    const { rows } = await db.query(
      "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'websites'",
      [schema],
    );
    expect(rows.map((r) => r.indexname)).toEqual(
      expect.arrayContaining([
        'idx_websites_file_upload_id',
        'idx_websites_status',
        'idx_websites_created_at',
        'idx_websites_upload_status_id',
      ]),
    );
  });

  it('reads the schema, pool size and timeouts from the URL', async () => {
    const schema = schemas.next();
    const store = await openPostgresStore(
      `${withSchema(url, schema)}&pool_max=1&idle_timeout_ms=5000&connect_timeout_ms=3000`,
    );
    onTestFinished(() => store.close());
    expect(store.schema).toBe(schema);
    await Promise.all([store.countUsers(), store.countUsers(), store.countUsers()]);
    expect(store.poolStats().total).toBe(1);
    const db = await inspect();
    const { rows } = await db.query('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1', [
      schema,
    ]);
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it('refuses a malformed pool size or schema name with ConfigInvalidError', async () => {
    await expect(openPostgresStore(`${url}?pool_max=0`)).rejects.toBeInstanceOf(ConfigInvalidError);
    await expect(openPostgresStore(`${url}?connect_timeout_ms=soon`)).rejects.toThrow(/connect_timeout_ms/);
    await expect(openPostgresStore(url, { schema: 'Robert"; DROP TABLE users' })).rejects.toMatchObject({
      code: ErrorCode.ConfigInvalid,
    });
  });

  it('reports pool figures and the time spent waiting for a connection', async () => {
    const store = await openFresh(undefined, { max: 2 });
    const before = { count: store.acquireCount, waitMs: store.acquireWaitMs };
    const calls = Array.from({ length: 6 }, () => store.countUsers());
    // Six statements asked for a connection at once from a pool of two.
    expect(store.poolStats().waiting).toBeGreaterThan(0);
    await Promise.all(calls);
    const after = store.poolStats();
    expect(after.total).toBeLessThanOrEqual(2);
    expect(after.waiting).toBe(0);
    expect(after.idle).toBe(after.total);
    expect(store.acquireCount - before.count).toBe(6);
    expect(store.acquireWaitMs).toBeGreaterThan(before.waitMs);
  });

  it('reports a server that is not listening as StoreUnavailableError that says how to start it', async () => {
    const opening = openPostgresStore('postgres://postgres:s3cret@127.0.0.1:1/test');
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    const err = (await opening.catch((e: unknown) => e)) as StoreUnavailableError;
    expect(err.code).toBe(ErrorCode.StoreUnavailable);
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.message).toContain(START_POSTGRES_HINT);
    expect(err.message).not.toContain('s3cret');
  });

  it('reports a database that does not exist as StoreUnavailableError that says how to create it', async () => {
    const missing = new URL(url);
    missing.pathname = '/headroom_no_such_database';
    const opening = openPostgresStore(missing.toString());
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(opening).rejects.toThrow(/createdb .* headroom_no_such_database/);
  });

  it('reports a call after close as StoreUnavailableError', async () => {
    const store = await openPostgresStore(url, { schema: schemas.next() });
    await store.close();
    await expect(store.countUsers()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('discards an upload whose rows were already processed during ingest, messages and all', async () => {
    const store = await openFresh();
    const user = await store.createUser('big@example.com', 'h');
    const uploadId = await store.createUpload(user.id, 'big.csv');
    await store.insertWebsites(uploadId, websites(4));
    const jobs = await store.claimPending(uploadId, 4);
    await store.saveScrapes(jobs.map(scrapeRecord));
    await store.saveMessages(jobs.slice(0, 2).map((j) => messageRecord(j)));
    expect(await store.discardUpload(uploadId)).toBe(true);
    expect(await store.getUpload(uploadId)).toBeUndefined();
    expect((await store.stats()).messages).toBe(0);
  });

  it('counts the rows of each upload separately when one batch spans two uploads', async () => {
    const store = await openFresh();
    const first = await seedUpload(store, 3);
    const second = await seedUpload(store, 2);
    const jobs = [...(await store.claimPending(first, 3)), ...(await store.claimPending(second, 2))];
    await store.saveScrapes(jobs.map(scrapeRecord));
    await store.saveMessages(jobs.map((j) => messageRecord(j)));
    expect((await store.getUpload(first))?.ai).toEqual({ done: 3, failed: 0 });
    expect((await store.getUpload(second))?.ai).toEqual({ done: 2, failed: 0 });
  });
});

function websites(count: number): NewWebsite[] {
  return Array.from({ length: count }, (_, i) => ({
    lineNumber: i + 2,
    url: `https://site-${i + 2}.example/`,
    company: `Company ${i + 2}`,
    name: null,
    email: null,
    notes: null,
  }));
}

function scrapeRecord(job: WebsiteJob) {
  return {
    websiteId: job.websiteId,
    uploadId: job.uploadId,
    finalUrl: job.url,
    httpStatus: 200,
    title: 'Title',
    description: 'Description',
    excerpt: 'Excerpt',
    scrapeMs: 300,
  };
}

function messageRecord(job: WebsiteJob, content = `hello ${job.url}`) {
  return {
    websiteId: job.websiteId,
    uploadId: job.uploadId,
    content,
    model: 'sim-1',
    promptTokens: 120,
    completionTokens: 80,
    aiMs: 1_700,
  };
}
