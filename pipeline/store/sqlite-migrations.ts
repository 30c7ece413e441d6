import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../../errors.js';

/** One step of the schema. Numbered from 1; a shipped migration is never edited, only followed. */
export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The schema of the SQLite store. The PostgreSQL driver keeps the same logical schema in its own
 * list, so the SQL here stays plain (no SQLite-only column types, no triggers).
 */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'users, uploads, websites, messages, tasks',
    sql: `
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE file_uploads (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  filename TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'ingesting',
  rows INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  rejections TEXT NOT NULL DEFAULT '[]',
  scrape_done INTEGER NOT NULL DEFAULT 0,
  scrape_failed INTEGER NOT NULL DEFAULT 0,
  ai_done INTEGER NOT NULL DEFAULT 0,
  ai_failed INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  completed_at TEXT
);

CREATE TABLE websites (
  id INTEGER PRIMARY KEY,
  file_upload_id INTEGER NOT NULL REFERENCES file_uploads (id),
  line_number INTEGER NOT NULL,
  url TEXT NOT NULL,
  company TEXT,
  name TEXT,
  email TEXT,
  notes TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  title TEXT,
  description TEXT,
  excerpt TEXT,
  final_url TEXT,
  http_status INTEGER,
  scrape_ms INTEGER,
  failure_stage TEXT,
  failure_reason TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (file_upload_id, line_number)
);

-- The three indexes of the system this pipeline mirrors, under its names.
CREATE INDEX idx_websites_file_upload_id ON websites (file_upload_id);
CREATE INDEX idx_websites_status ON websites (status);
CREATE INDEX idx_websites_created_at ON websites (created_at);
-- claimPending, requeueInFlight and the tally read "rows of upload U in status S, by id": this index
-- answers them as a range scan instead of walking every row of the upload (500k in a big run).
CREATE INDEX idx_websites_upload_status_id ON websites (file_upload_id, status, id);

CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  website_id INTEGER NOT NULL UNIQUE REFERENCES websites (id),
  file_upload_id INTEGER NOT NULL REFERENCES file_uploads (id),
  content TEXT NOT NULL,
  model TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  ai_ms INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
-- listMessages pages through one upload by message id (keyset), and the tally counts its messages.
CREATE INDEX idx_messages_upload_id ON messages (file_upload_id, id);

CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  result TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  enqueued_at_ms INTEGER NOT NULL,
  started_at_ms INTEGER,
  completed_at_ms INTEGER
);
`,
  },
];

/**
 * Brings the database up to the newest migration, recording each in `schema_migrations`. Safe to
 * run on every open and from several processes at once: the check and the steps share one
 * write-locked transaction, so the second process finds the work done. Returns the versions applied.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
): number[] {
  const migrate = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const done = new Set(db.prepare<[], number>('SELECT version FROM schema_migrations').pluck().all());
    const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    const unknown = [...done].filter((v) => v > newest);
    if (unknown.length > 0) {
      // A newer headroom migrated this file; running old code on it could corrupt what it wrote.
      throw new StoreUnavailableError(
        `the database ${db.name} has schema version ${Math.max(...unknown)}, newer than this headroom knows (${newest}); upgrade headroom or use another database file`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
      applied.push(m.version);
    }
    return applied;
  });
  return migrate.immediate();
}
