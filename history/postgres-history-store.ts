import type { Pool } from 'pg';
import { migratePostgres } from '../pipeline/store/postgres-migrations.js';
import { openPostgresPool } from '../pipeline/store/postgres-store.js';
import { HISTORY_MIGRATIONS, historyMigrationSql } from './history-migrations.js';
import {
  type HistoryEntry,
  type HistoryMetric,
  type HistoryStore,
  recordedFigures,
  resultColumns,
  type SeriesPoint,
} from './history-store.js';

/** The history in a PostgreSQL schema (`?schema=` in the URL), shared by a team's CI runners. */
export class PostgresHistoryStore implements HistoryStore {
  readonly kind = 'postgres' as const;

  private constructor(
    private readonly pool: Pool,
    private readonly toError: (err: unknown) => unknown,
  ) {}

  static async open(url: string): Promise<PostgresHistoryStore> {
    const migrations = HISTORY_MIGRATIONS.map((m) => ({ ...m, sql: historyMigrationSql(m.sql, 'postgres') }));
    const { pool, toError } = await openPostgresPool(url, async (client, schema) => {
      // Its own version table: the history may share a schema with the pipeline's tables.
      await migratePostgres(client, schema, migrations, 'history_migrations');
    });
    return new PostgresHistoryStore(pool, toError);
  }

  private async query<R extends object>(text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw this.toError(err);
    }
  }

  async add(entry: HistoryEntry): Promise<number> {
    const figures = recordedFigures(entry);
    // One statement: the result and its figures are written together or not at all.
    const [row] = await this.query<{ id: number }>(
      `WITH r AS (
         INSERT INTO history_results (measured_at, commit_sha, branch, host_id, host_json, scenario, source, engine)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id),
       f AS (
         INSERT INTO history_figures (result_id, metric, value, unit, direction, gate)
         SELECT r.id, m, v, u, d, g FROM r,
           unnest($9::text[], $10::float8[], $11::text[], $12::text[], $13::text[]) AS t(m, v, u, d, g))
       SELECT id::int AS id FROM r`,
      [
        ...resultColumns(entry),
        figures.map(([m]) => m),
        figures.map(([, f]) => f.value),
        figures.map(([, f]) => f.unit),
        figures.map(([, f]) => f.direction),
        figures.map(([, f]) => f.gate),
      ],
    );
    return row!.id;
  }

  async scenarios(): Promise<string[]> {
    const rows = await this.query<{ scenario: string }>(
      'SELECT DISTINCT scenario FROM history_results ORDER BY scenario',
      [],
    );
    return rows.map((r) => r.scenario);
  }

  async metrics(scenario: string): Promise<HistoryMetric[]> {
    return this.query<HistoryMetric>(
      `SELECT DISTINCT ON (f.metric) f.metric, f.unit, f.direction, f.gate FROM history_figures f
       JOIN history_results r ON r.id = f.result_id
       WHERE r.scenario = $1 ORDER BY f.metric, f.result_id DESC`,
      [scenario],
    );
  }

  async hosts(scenario: string): Promise<Array<{ host: HistoryEntry['host']; results: number }>> {
    const rows = await this.query<{ host_json: string; results: number }>(
      `SELECT max(host_json) AS host_json, count(*)::int AS results FROM history_results
       WHERE scenario = $1 GROUP BY host_id ORDER BY count(*) DESC, host_id`,
      [scenario],
    );
    return rows.map((r) => ({ host: JSON.parse(r.host_json), results: r.results }));
  }

  async series(scenario: string, metric: string, hostId: string): Promise<SeriesPoint[]> {
    return this.query<SeriesPoint>(
      `SELECT r.id::int AS id, r.measured_at AS "measuredAt", r.commit_sha AS "commit", r.branch,
              r.host_id AS "hostId", f.value
       FROM history_results r JOIN history_figures f ON f.result_id = r.id
       WHERE r.scenario = $1 AND f.metric = $2 AND r.host_id = $3
       ORDER BY r.measured_at, r.id`,
      [scenario, metric, hostId],
    );
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
