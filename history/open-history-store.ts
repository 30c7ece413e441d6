import type { HistoryEntry, HistoryStore } from './history-store.js';
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

/** The line that says where a result went: `recorded auth in the history as #12 (commit …, host …)`. */
export function recordedLine(entry: HistoryEntry, id: number): string {
  return `recorded ${entry.scenario} in the history as #${id} (commit ${entry.commit?.slice(0, 10) ?? 'none'}, host ${entry.host.id})`;
}

/** Adds results to the history at `url` (`--record` of run, gate, capacity and import); returns what each became. */
export async function recordInHistory(
  url: string | undefined,
  entries: readonly HistoryEntry[],
): Promise<string[]> {
  const store = await openHistoryStore(url);
  try {
    const lines: string[] = [];
    for (const entry of entries) lines.push(recordedLine(entry, await store.add(entry)));
    return lines;
  } finally {
    await store.close();
  }
}
