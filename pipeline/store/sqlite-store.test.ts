import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCode, StoreUnavailableError } from '../../errors.js';
import { openStore } from './open-store.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';
import { storeContract } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'headroom-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function freshFile(): string {
  return join(dir, `store-${++files}.db`);
}

/** A store on a fresh file, closed when the test ends. */
function openFresh(file = freshFile()): SqliteStore {
  const store = openSqliteStore(file);
  onTestFinished(() => store.close());
  return store;
}

/** A second, raw connection to look at what the store wrote. */
function inspect(file: string): Database.Database {
  const db = new Database(file, { readonly: true });
  onTestFinished(() => {
    db.close();
  });
  return db;
}

describe('SqliteStore on a file', () => storeContract(async () => openStore(`sqlite:${freshFile()}`)));

describe('SqliteStore in memory', () => storeContract(async () => openStore(':memory:')));

describe('SqliteStore', () => {
  it('records each migration once and leaves the data alone when the file is opened again', async () => {
    const file = freshFile();
    const first = openSqliteStore(file);
    await first.createUser('ada@example.com', 'h');
    await first.close();
    const second = openFresh(file);
    expect(await second.countUsers()).toBe(1);
    const versions = inspect(file)
      .prepare('SELECT version FROM schema_migrations ORDER BY version')
      .pluck()
      .all();
    expect(versions).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
  });

  it('creates the indexes of the mirrored system under their names', () => {
    const file = freshFile();
    openFresh(file);
    const names = inspect(file)
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'websites'")
      .pluck()
      .all();
    expect(names).toEqual(
      expect.arrayContaining([
        'idx_websites_file_upload_id',
        'idx_websites_status',
        'idx_websites_created_at',
      ]),
    );
  });

  it('answers the claim query from the (file_upload_id, status, id) index without sorting', () => {
    const file = freshFile();
    openFresh(file);
    // The same statement as claimPending's: a plan change here means every claim scans the upload.
    const plan = inspect(file)
      .prepare(
        `EXPLAIN QUERY PLAN SELECT id, url, company, name, notes FROM websites
         WHERE file_upload_id = ? AND status = 'pending' ORDER BY id LIMIT ?`,
      )
      .all(1, 100) as { detail: string }[];
    const details = plan.map((p) => p.detail).join('\n');
    expect(details).toContain('idx_websites_upload_status_id');
    expect(details).not.toContain('TEMP B-TREE');
  });

  it('keeps the file in WAL mode', () => {
    const file = freshFile();
    openFresh(file);
    expect(inspect(file).pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('never hands the same row to two connections claiming in turn', async () => {
    const file = freshFile();
    const a = openFresh(file);
    const b = openFresh(file);
    const user = await a.createUser('u@example.com', 'h');
    const uploadId = await a.createUpload(user.id, 'list.csv');
    await a.insertWebsites(
      uploadId,
      Array.from({ length: 500 }, (_, i) => ({
        lineNumber: i + 2,
        url: `https://s${i}.example/`,
        company: null,
        name: null,
        email: null,
        notes: null,
      })),
    );
    const ids: number[] = [];
    for (let round = 0; round < 30; round++) {
      const [x, y] = await Promise.all([a.claimPending(uploadId, 11), b.claimPending(uploadId, 13)]);
      ids.push(...x.map((j) => j.websiteId), ...y.map((j) => j.websiteId));
    }
    expect(ids).toHaveLength(500);
    expect(new Set(ids).size).toBe(500);
  });

  it('refuses a database written by a newer schema with StoreUnavailableError', () => {
    const file = freshFile();
    openSqliteStore(file).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, ?)').run(
      'from the future',
      new Date().toISOString(),
    );
    db.close();
    expect(() => openSqliteStore(file)).toThrow(/schema version 999/);
    expect(() => openSqliteStore(file)).toThrow(StoreUnavailableError);
  });

  it('reports a path that cannot be opened as StoreUnavailableError with the driver error as cause', () => {
    // A directory is not a database file.
    const err = captureError(() => openSqliteStore(dir));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).code).toBe(ErrorCode.StoreUnavailable);
    expect((err as StoreUnavailableError).cause).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(dir);
  });

  it('reports a file that is not a database as StoreUnavailableError', () => {
    const file = join(dir, 'notes.txt');
    writeFileSync(
      file,
      'this is not a database, just some text that is long enough to have a header '.repeat(20),
    );
    expect(() => openSqliteStore(file)).toThrow(StoreUnavailableError);
  });

  it('creates the folder of a database file that does not exist yet', async () => {
    const store = openFresh(join(dir, 'nested', 'deeper', 'pipeline.db'));
    expect(await store.countUsers()).toBe(0);
  });

  it('reports a call after close as StoreUnavailableError', async () => {
    const store = openSqliteStore(':memory:');
    await store.close();
    await expect(store.countUsers()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
