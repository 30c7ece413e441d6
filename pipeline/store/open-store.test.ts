import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigInvalidError, ErrorCode, StoreUnavailableError } from '../../errors.js';
import { openStore } from './open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'headroom-open-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openStore', () => {
  it('opens a SQLite file named by a sqlite: URL', async () => {
    const file = join(dir, 'a.db');
    const store = await openStore(`sqlite:${file}`);
    await store.close();
    expect(store.kind).toBe('sqlite');
    expect(existsSync(file)).toBe(true);
  });

  it('opens a SQLite file named by a plain path', async () => {
    const file = join(dir, 'b.db');
    const store = await openStore(file);
    await store.close();
    expect(existsSync(file)).toBe(true);
  });

  it('opens a SQLite file named by a sqlite:// URL with an absolute path', async () => {
    const file = join(dir, 'c.db');
    const store = await openStore(`sqlite://${file}`);
    await store.close();
    expect(existsSync(file)).toBe(true);
  });

  it('opens an in-memory SQLite store for :memory:', async () => {
    const store = await openStore(':memory:');
    await store.createUser('a@example.com', 'h');
    expect(await store.countUsers()).toBe(1);
    await store.close();
  });

  it('routes a postgres:// URL to the PostgreSQL driver, without echoing the password in its errors', async () => {
    // Port 1 has no server: the driver's own error shows the URL reached it.
    const opening = openStore('postgres://app:s3cret@127.0.0.1:1/headroom');
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    const message = await opening.catch((err: Error) => err.message);
    expect(message).toContain('PostgreSQL at 127.0.0.1:1/headroom');
    expect(message).not.toContain('s3cret');
  });

  it('routes a postgresql:// URL the same way', async () => {
    await expect(openStore('postgresql://127.0.0.1:1/headroom')).rejects.toMatchObject({
      code: ErrorCode.StoreUnavailable,
    });
  });

  it('refuses a URL of an unknown scheme', async () => {
    await expect(openStore('mysql://127.0.0.1/headroom')).rejects.toThrow(/unknown store scheme/);
  });

  it('refuses a sqlite: URL without a path', async () => {
    await expect(openStore('sqlite:')).rejects.toBeInstanceOf(ConfigInvalidError);
  });
});
