import { ConfigInvalidError } from '../../errors.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/**
 * The one place that picks a store driver from a URL:
 * - `sqlite:<path>`, `sqlite://<path>`, `sqlite::memory:`, a plain path or `:memory:` → SQLite;
 * - `postgres://…` / `postgresql://…` → PostgreSQL (query parameters: see openPostgresStore).
 */
export async function openStore(url: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // Loaded lazily, so an embedded run never loads the pg client.
    const { openPostgresStore } = await import('./postgres-store.js');
    return openPostgresStore(url);
  }
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  if (file === '') {
    throw new ConfigInvalidError('store URL', [
      `"${url}" names no database file; write sqlite:<path>, a path, or :memory:`,
    ]);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
    throw new ConfigInvalidError('store URL', [
      `${redactPassword(url)}: unknown store scheme; write sqlite:<path>, a path, :memory: or postgres://…`,
    ]);
  }
  return openSqliteStore(file);
}

/** Error messages end up in logs and terminals: never echo a password from a connection URL. */
function redactPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
