import type { HistoryStore } from './history-store.js';
import { SqliteHistoryStore } from './sqlite-history-store.js';

/** Where the history lives when no `--store` is given: beside the baselines, in the project. */
export const DEFAULT_HISTORY_STORE = 'sqlite:.headroom/history.db';

/**
 * The one place that picks a history driver from a URL: `postgres://…` (with `?schema=`) for a
 * team's shared history, else a SQLite file (`sqlite:<path>` or a plain path).
 */
export async function openHistoryStore(url: string = DEFAULT_HISTORY_STORE): Promise<HistoryStore> {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // Loaded lazily, so the embedded history never loads the pg client.
    const { PostgresHistoryStore } = await import('./postgres-history-store.js');
    return PostgresHistoryStore.open(url);
  }
  return SqliteHistoryStore.open(url.replace(/^sqlite:(\/\/)?/i, '') || DEFAULT_HISTORY_STORE.slice(7));
}
