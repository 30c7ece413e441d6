import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { HistoryInvalidError } from '../errors.js';
import { HISTORY_MIGRATIONS, historyMigrationSql } from './history-migrations.js';
import {
  type HistoryEntry,
  type HistoryMetric,
  type HistoryStore,
  recordedFigures,
  resultColumns,
  type SeriesPoint,
} from './history-store.js';

/** The history in one SQLite file (WAL), the schema version in `PRAGMA user_version`. */
export class SqliteHistoryStore implements HistoryStore {
  readonly kind = 'sqlite' as const;
  private readonly insertResult;
  private readonly insertFigure;

  private constructor(private readonly db: Database.Database) {
    this.insertResult = db.prepare(
      `INSERT INTO history_results (measured_at, commit_sha, branch, host_id, host_json, scenario, source, engine)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertFigure = db.prepare(
      'INSERT INTO history_figures (result_id, metric, value, unit, direction, gate) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  static open(file: string): SqliteHistoryStore {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      migrate(db, file);
      return new SqliteHistoryStore(db);
    } catch (err) {
      db?.close();
      if (err instanceof HistoryInvalidError) throw err;
      throw new HistoryInvalidError(
        file,
        `it cannot be opened as a history database (${(err as Error).message}); move it away, or give another file with --store sqlite:<path>`,
        { cause: err },
      );
    }
  }

  async add(entry: HistoryEntry): Promise<number> {
    return this.db.transaction(() => {
      const id = Number(this.insertResult.run(...resultColumns(entry)).lastInsertRowid);
      for (const [metric, f] of recordedFigures(entry)) {
        this.insertFigure.run(id, metric, f.value, f.unit, f.direction, f.gate);
      }
      return id;
    })();
  }

  async scenarios(): Promise<string[]> {
    return this.db
      .prepare<[], string>('SELECT DISTINCT scenario FROM history_results ORDER BY scenario')
      .pluck()
      .all();
  }

  async metrics(scenario: string): Promise<HistoryMetric[]> {
    // The newest result's unit, direction and gate, should a figure's definition have changed.
    return this.db
      .prepare<[string], HistoryMetric>(
        `SELECT f.metric, f.unit, f.direction, f.gate FROM history_figures f
         JOIN history_results r ON r.id = f.result_id
         WHERE r.scenario = ? AND f.result_id = (
           SELECT max(f2.result_id) FROM history_figures f2 JOIN history_results r2 ON r2.id = f2.result_id
           WHERE r2.scenario = r.scenario AND f2.metric = f.metric)
         ORDER BY f.metric`,
      )
      .all(scenario);
  }

  async hosts(scenario: string): Promise<Array<{ host: HistoryEntry['host']; results: number }>> {
    return this.db
      .prepare<[string], { host_json: string; results: number }>(
        `SELECT max(host_json) AS host_json, count(*) AS results FROM history_results
         WHERE scenario = ? GROUP BY host_id ORDER BY count(*) DESC, host_id`,
      )
      .all(scenario)
      .map((r) => ({ host: JSON.parse(r.host_json), results: r.results }));
  }

  async series(scenario: string, metric: string, hostId: string): Promise<SeriesPoint[]> {
    return this.db
      .prepare<[string, string, string], SeriesPoint>(
        `SELECT r.id, r.measured_at AS measuredAt, r.commit_sha AS "commit", r.branch, r.host_id AS hostId, f.value
         FROM history_results r JOIN history_figures f ON f.result_id = r.id
         WHERE r.scenario = ? AND f.metric = ? AND r.host_id = ?
         ORDER BY r.measured_at, r.id`,
      )
      .all(scenario, metric, hostId);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = Math.max(...HISTORY_MIGRATIONS.map((m) => m.version));
  if (current > newest) {
    throw new HistoryInvalidError(
      file,
      `its schema version is ${current}, newer than this headroom knows (${newest}); upgrade headroom`,
    );
  }
  for (const m of HISTORY_MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(historyMigrationSql(m.sql, 'sqlite'));
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
