import {
  type CustomTypesConfig,
  DatabaseError,
  Pool,
  type PoolClient,
  type QueryConfig,
  type QueryResult,
  type QueryResultRow,
  types,
} from 'pg';
import { ConfigInvalidError, HeadroomError, StoreUnavailableError, UserExistsError } from '../../errors.js';
import { migratePostgres } from './postgres-migrations.js';
import type {
  DashboardStats,
  FailureRecord,
  MessagePage,
  MessageRecord,
  NewWebsite,
  RowRejection,
  ScrapeRecord,
  Store,
  Task,
  TaskId,
  TaskStatus,
  UploadId,
  UploadProgress,
  UploadStatus,
  UploadTally,
  User,
  WebsiteJob,
  WebsiteStatus,
} from './store.js';

/** Pool settings; each can also come from the store URL (`pool_max`, `idle_timeout_ms`, `connect_timeout_ms`). */
export interface PostgresPoolOptions {
  max?: number;
  idleTimeoutMillis?: number;
  connectionTimeoutMillis?: number;
}

/** Options of openPostgresStore. Values given here win over the same settings in the URL. */
export interface PostgresStoreOptions {
  /** Schema holding the tables (created if missing); also `?schema=` in the URL. Default `public`. */
  schema?: string;
  pool?: PostgresPoolOptions;
}

/** Connections of the pool, for /metrics. */
export interface PostgresPoolStats {
  /** Open connections, idle or in use. */
  total: number;
  idle: number;
  /** Callers waiting for a connection because all `max` are in use. */
  waiting: number;
}

/** The command that starts the local cluster on this machine kind (Debian's postgresql-common). */
export const START_POSTGRES_HINT = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';

const START_HINT_SENTENCE = `If the server is this machine's and not running, start it with: ${START_POSTGRES_HINT}`;

/** pg's own default: enough for a few workers' batchers and the API; raise it with `pool_max`. */
const DEFAULT_POOL_MAX = 10;
/** Idle connections are kept this long, so a pipeline pausing between batches does not reconnect. */
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/**
 * pg waits forever by default, both for a new connection and for a free one when the pool is full.
 * 15 s turns a host that drops packets into a StoreUnavailableError, while a burst of writes queued
 * behind a busy pool (milliseconds each) still waits its turn.
 */
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/**
 * A single statement that lost a deadlock or a serialization check was rolled back whole, so running
 * it again is safe. Row writes lock websites, then uploads, each in id order, which leaves deadlocks
 * to discardUpload racing writes to the upload it removes; three tries absorb those.
 */
const MAX_STATEMENT_ATTEMPTS = 3;
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);

/** Only the first rejections are kept: enough to show the uploader, bounded for a bad 500k-row file. */
const MAX_STORED_REJECTIONS = 1_000;
/** The tally names the most frequent failure reasons only; the long tail adds nothing to a report. */
const MAX_FAILURE_REASONS = 20;

const WEBSITE_STATUSES: readonly WebsiteStatus[] = ['pending', 'queued', 'scraped', 'done', 'failed'];
const TASK_STATUSES: readonly TaskStatus[] = ['queued', 'running', 'completed', 'failed'];

/**
 * Ids and counts are bigint in PostgreSQL, which pg returns as strings to be safe past 2^53. Ids
 * here stay far below that (9e15 rows), so they are read as numbers, for this pool only.
 */
const INT8_OID = 20;
const PG_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? Number
      : types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

/** Time columns are read as the ISO 8601 UTC text JavaScript writes, with no Date parsing per row. */
function iso(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * Every statement is named, so each connection parses and plans it once and later calls send only
 * their values. Batch statements take one array per column and `unnest` them: one round trip and
 * one statement per batch, whatever its size, with no limit on bound parameters.
 */
const SQL = {
  insertUser: {
    name: 'hrm_insert_user',
    text: `INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, ${iso('created_at')} AS created_at`,
  },
  selectUserByEmail: {
    name: 'hrm_select_user_by_email',
    text: `SELECT id, email, password_hash, ${iso('created_at')} AS created_at FROM users WHERE email = $1`,
  },
  countUsers: { name: 'hrm_count_users', text: 'SELECT count(*) AS n FROM users' },
  insertUpload: {
    name: 'hrm_insert_upload',
    text: 'INSERT INTO file_uploads (user_id, filename) VALUES ($1, $2) RETURNING id',
  },
  // A line already stored is skipped, so an ingest that is replayed after a crash inserts nothing twice.
  insertWebsites: {
    name: 'hrm_insert_websites',
    text: `INSERT INTO websites (file_upload_id, line_number, url, company, name, email, notes)
      SELECT $1, r.* FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS r
      ON CONFLICT (file_upload_id, line_number) DO NOTHING`,
  },
  // A second call is ignored. An upload whose rows all finished while it was still ingesting (or
  // that accepted none) completes here, since no row event is left to complete it. The row lock of
  // the UPDATE makes it read counters that concurrent batches have committed.
  finishIngest: {
    name: 'hrm_finish_ingest',
    text: `UPDATE file_uploads SET rows = $1, accepted = $2, rejected = $3, rejections = $4::json,
        status = CASE WHEN scrape_failed + ai_done + ai_failed >= $2 THEN 'completed' ELSE 'processing' END,
        completed_at = CASE WHEN scrape_failed + ai_done + ai_failed >= $2 THEN now() ELSE NULL END
      WHERE id = $5 AND status = 'ingesting'`,
  },
  // Locking the upload first makes a concurrent finishIngest wait, then find nothing to finish.
  discardUpload: {
    name: 'hrm_discard_upload',
    text: `WITH u AS (SELECT id FROM file_uploads WHERE id = $1 AND status = 'ingesting' FOR UPDATE),
      m AS (DELETE FROM messages WHERE file_upload_id IN (SELECT id FROM u)),
      w AS (DELETE FROM websites WHERE file_upload_id IN (SELECT id FROM u))
      DELETE FROM file_uploads WHERE id IN (SELECT id FROM u) RETURNING id`,
  },
  selectUpload: {
    name: 'hrm_select_upload',
    text: `SELECT id, user_id, filename, status, rows, accepted, rejected, rejections, scrape_done,
        scrape_failed, ai_done, ai_failed, ${iso('created_at')} AS created_at,
        ${iso('completed_at')} AS completed_at
      FROM file_uploads WHERE id = $1`,
  },
  selectUnfinished: {
    name: 'hrm_select_unfinished',
    text: "SELECT id FROM file_uploads WHERE status <> 'completed' ORDER BY id",
  },
  // SKIP LOCKED: a dispatcher passes over rows another one is claiming instead of waiting for them,
  // and a row that stopped being pending meanwhile is re-checked and left out.
  //
  // `status BETWEEN 'pending' AND 'pending'` means `status = 'pending'`, written so the planner
  // reads the rows from idx_websites_upload_status_id. With `=`, it deems the status constant, sees
  // `ORDER BY id` served by the primary key, and walks the table from its first id, stepping over
  // every row already claimed: each claim costs more than the last (13 ms per claim of 500 after
  // 30,000 claimed rows, measured; 3 ms on this index, which only steps over dead index entries
  // until vacuum removes them).
  claimPending: {
    name: 'hrm_claim_pending',
    text: `WITH c AS (
        SELECT id FROM websites
        WHERE file_upload_id = $1 AND status BETWEEN 'pending' AND 'pending'
        ORDER BY status, id LIMIT $2 FOR UPDATE SKIP LOCKED
      ), q AS (
        UPDATE websites w SET status = 'queued', updated_at = now() FROM c WHERE w.id = c.id
        RETURNING w.id, w.url, w.company, w.name, w.notes
      )
      SELECT id, url, company, name, notes FROM q ORDER BY id`,
  },
  selectQueued: {
    name: 'hrm_select_queued',
    text: `SELECT id, url, company, name, notes FROM websites
      WHERE file_upload_id = $1 AND status = 'queued' AND id > $2 ORDER BY id LIMIT $3`,
  },
  // Locks rows in id order like the batch writes below, so a requeue during writes cannot deadlock
  // with them. Queued rows have no scrape fields to clear; clearing them anyway keeps one UPDATE.
  requeueInFlight: {
    name: 'hrm_requeue_in_flight',
    text: `WITH l AS (
        SELECT id, status FROM websites WHERE file_upload_id = $1 AND status IN ('queued', 'scraped')
        ORDER BY id FOR UPDATE
      ), u AS (
        UPDATE websites t SET status = 'pending', final_url = NULL, http_status = NULL, title = NULL,
          description = NULL, excerpt = NULL, scrape_ms = NULL, updated_at = now()
        FROM l WHERE t.id = l.id
        RETURNING l.status AS was
      ), n AS (
        SELECT count(*) FILTER (WHERE was = 'scraped') AS scraped, count(*) AS total FROM u
      ), b AS (
        UPDATE file_uploads f SET scrape_done = f.scrape_done - n.scraped FROM n
        WHERE f.id = $1 AND n.scraped > 0
      )
      SELECT total AS n FROM n`,
  },
  // The batch methods below share one shape. `r`: the batch, first record per website only (the
  // SQLite driver applies records in order, so a later duplicate changes nothing). `w`: the rows
  // that may still change state, locked in id order (no deadlock between batches) and read at their
  // latest committed version (READ COMMITTED re-checks a locked row), so the state they were in is
  // known for certain. Then the row updates, and one counter update per upload they belong to, from
  // the rows that actually changed: a replayed or concurrent duplicate moves nothing. `l` locks those
  // uploads in id order too, for batches that span several uploads. Every join is batch → index of
  // websites, and the CTEs carry the batch's values along: the planner guesses one row for each CTE,
  // so a join of two CTEs became a nested loop comparing every pair (quadratic in the batch size).
  //
  // `pending` is accepted as well as `queued`: a job from before a requeue may still finish.
  saveScrapes: {
    name: 'hrm_save_scrapes',
    text: `WITH r AS (
        SELECT DISTINCT ON (website_id) *
        FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[],
          $8::int[]) WITH ORDINALITY
          AS r (website_id, upload_id, final_url, http_status, title, description, excerpt, scrape_ms, ord)
        ORDER BY website_id, ord
      ), w AS (
        SELECT w.id, r.final_url, r.http_status, r.title, r.description, r.excerpt, r.scrape_ms
        FROM r JOIN websites w ON w.id = r.website_id AND w.file_upload_id = r.upload_id
        WHERE w.status IN ('pending', 'queued')
        ORDER BY w.id FOR UPDATE OF w
      ), s AS (
        UPDATE websites t SET status = 'scraped', final_url = w.final_url, http_status = w.http_status,
          title = w.title, description = w.description, excerpt = w.excerpt, scrape_ms = w.scrape_ms,
          updated_at = now()
        FROM w WHERE t.id = w.id
        RETURNING t.file_upload_id
      ), c AS (
        SELECT file_upload_id, count(*) AS n FROM s GROUP BY file_upload_id
      ), l AS (
        SELECT id FROM file_uploads WHERE id IN (SELECT file_upload_id FROM c) ORDER BY id FOR NO KEY UPDATE
      )
      UPDATE file_uploads f SET scrape_done = f.scrape_done + c.n
      FROM c JOIN l ON l.id = c.file_upload_id WHERE f.id = c.file_upload_id`,
  },
  // The message is inserted only for a row that can still move to done, and the row moves only if
  // its message was inserted. A message written before its scrape record (the two are flushed by
  // different batchers) takes the row from pending/queued straight to done and counts its scrape.
  // Such a row is told apart by its http_status, NULL until saveScrapes sets it and again after a
  // requeue clears it; reading it from the locked row itself spares `d` a join with `w`.
  saveMessages: {
    name: 'hrm_save_messages',
    text: `WITH r AS (
        SELECT DISTINCT ON (website_id) *
        FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[])
          WITH ORDINALITY
          AS r (website_id, upload_id, content, model, prompt_tokens, completion_tokens, ai_ms, ord)
        ORDER BY website_id, ord
      ), w AS (
        SELECT w.id, r.upload_id, r.content, r.model, r.prompt_tokens, r.completion_tokens, r.ai_ms
        FROM r JOIN websites w ON w.id = r.website_id AND w.file_upload_id = r.upload_id
        WHERE w.status IN ('pending', 'queued', 'scraped')
        ORDER BY w.id FOR UPDATE OF w
      ), m AS (
        INSERT INTO messages (website_id, file_upload_id, content, model, prompt_tokens, completion_tokens, ai_ms)
        SELECT id, upload_id, content, model, prompt_tokens, completion_tokens, ai_ms FROM w
        ON CONFLICT (website_id) DO NOTHING
        RETURNING website_id
      ), d AS (
        UPDATE websites t SET status = 'done', updated_at = now()
        FROM m WHERE t.id = m.website_id
        RETURNING t.file_upload_id, t.http_status IS NULL AS unscraped
      ), c AS (
        SELECT file_upload_id, count(*) FILTER (WHERE unscraped) AS scraped, count(*) AS done
        FROM d GROUP BY file_upload_id
      ), l AS (
        SELECT id FROM file_uploads WHERE id IN (SELECT file_upload_id FROM c) ORDER BY id FOR NO KEY UPDATE
      )
      UPDATE file_uploads f SET scrape_done = f.scrape_done + c.scraped, ai_done = f.ai_done + c.done
      FROM c JOIN l ON l.id = c.file_upload_id WHERE f.id = c.file_upload_id`,
  },
  // An AI failure implies the scrape succeeded, even if its record was never written; a scrape
  // failure of a row already counted in scrape_done takes that back.
  saveFailures: {
    name: 'hrm_save_failures',
    text: `WITH r AS (
        SELECT DISTINCT ON (website_id) *
        FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY
          AS r (website_id, upload_id, stage, reason, ord)
        ORDER BY website_id, ord
      ), w AS (
        SELECT w.id, w.status, r.stage, r.reason
        FROM r JOIN websites w ON w.id = r.website_id AND w.file_upload_id = r.upload_id
        WHERE w.status IN ('pending', 'queued', 'scraped')
        ORDER BY w.id FOR UPDATE OF w
      ), f AS (
        UPDATE websites t SET status = 'failed', failure_stage = w.stage, failure_reason = w.reason,
          updated_at = now()
        FROM w WHERE t.id = w.id
        RETURNING t.file_upload_id, w.status AS was, w.stage
      ), c AS (
        SELECT file_upload_id,
          sum(CASE WHEN was = 'scraped' THEN -(stage = 'scrape')::int ELSE (stage = 'ai')::int END) AS scrape_done,
          count(*) FILTER (WHERE stage = 'scrape') AS scrape_failed,
          count(*) FILTER (WHERE stage = 'ai') AS ai_failed
        FROM f GROUP BY file_upload_id
      ), l AS (
        SELECT id FROM file_uploads WHERE id IN (SELECT file_upload_id FROM c) ORDER BY id FOR NO KEY UPDATE
      )
      UPDATE file_uploads u SET scrape_done = u.scrape_done + c.scrape_done,
        scrape_failed = u.scrape_failed + c.scrape_failed, ai_failed = u.ai_failed + c.ai_failed
      FROM c JOIN l ON l.id = c.file_upload_id WHERE u.id = c.file_upload_id`,
  },
  // Each accepted row ends in exactly one of scrape_failed, ai_done, ai_failed.
  completeUpload: {
    name: 'hrm_complete_upload',
    text: `WITH u AS (
        UPDATE file_uploads SET status = 'completed', completed_at = now()
        WHERE id = $1 AND status = 'processing' AND scrape_failed + ai_done + ai_failed >= accepted
        RETURNING status
      )
      SELECT coalesce((SELECT status FROM u), (SELECT status FROM file_uploads WHERE id = $1)) AS status`,
  },
  selectMessages: {
    name: 'hrm_select_messages',
    text: `SELECT m.id, m.website_id, w.line_number, w.url, m.content, m.model, m.prompt_tokens,
        m.completion_tokens, ${iso('m.created_at')} AS created_at
      FROM messages m JOIN websites w ON w.id = m.website_id
      WHERE m.file_upload_id = $1 AND m.id > $2
      ORDER BY m.id LIMIT $3`,
  },
  // One statement, so every count sees the same snapshot while workers keep writing. Reasons sort
  // by bytes (COLLATE "C"), as in SQLite, so both drivers pick the same top reasons on a tie.
  tallyUpload: {
    name: 'hrm_tally_upload',
    text: `SELECT
        (SELECT count(*) FROM websites WHERE file_upload_id = $1) AS rows,
        (SELECT count(*) FROM websites
          WHERE file_upload_id = $1 AND status = 'failed' AND failure_reason IS NOT NULL) AS failed,
        (SELECT count(*) FROM websites w
          WHERE w.file_upload_id = $1 AND EXISTS (SELECT 1 FROM messages m WHERE m.website_id = w.id)) AS messages,
        (SELECT count(*) FROM websites w
          WHERE w.file_upload_id = $1
            AND NOT (w.status = 'failed' AND w.failure_reason IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.website_id = w.id)) AS lost,
        (SELECT count(*) FROM websites w
          WHERE w.file_upload_id = $1 AND w.status IN ('pending', 'queued', 'scraped')
            AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.website_id = w.id)) AS in_progress,
        (SELECT count(*) FROM (
          SELECT m.website_id FROM messages m JOIN websites w ON w.id = m.website_id
          WHERE w.file_upload_id = $1 GROUP BY m.website_id HAVING count(*) > 1) d) AS duplicated,
        (SELECT coalesce(json_agg(json_build_array(reason, n) ORDER BY n DESC, reason), '[]')
          FROM (
            SELECT (failure_stage || ': ' || failure_reason) COLLATE "C" AS reason, count(*) AS n FROM websites
            WHERE file_upload_id = $1 AND status = 'failed' AND failure_reason IS NOT NULL
            GROUP BY failure_stage, failure_reason
            ORDER BY n DESC, reason LIMIT $2
          ) t) AS reasons`,
  },
  insertTask: {
    name: 'hrm_insert_task',
    text: `INSERT INTO tasks (user_id, type, payload, enqueued_at_ms) VALUES ($1, $2, $3::json, $4) RETURNING id`,
  },
  selectTask: {
    name: 'hrm_select_task',
    text: `SELECT id, user_id, type, payload, status, result, error, attempts, enqueued_at_ms, started_at_ms,
        completed_at_ms
      FROM tasks WHERE id = $1`,
  },
  // A completed task stays completed: a duplicate delivery of its job must not reopen it.
  startTask: {
    name: 'hrm_start_task',
    text: `UPDATE tasks SET status = 'running', started_at_ms = coalesce(started_at_ms, $1), attempts = $2
      WHERE id = $3 AND status <> 'completed'`,
  },
  completeTask: {
    name: 'hrm_complete_task',
    text: `UPDATE tasks SET status = 'completed', result = $1::json, error = NULL, completed_at_ms = $2
      WHERE id = $3 AND status <> 'completed'`,
  },
  failTask: {
    name: 'hrm_fail_task',
    text: `UPDATE tasks SET status = 'failed', error = $1, completed_at_ms = $2
      WHERE id = $3 AND status <> 'completed'`,
  },
  // The dashboard counts scan whole indexes (O(rows)): fine for a page polled by people, not for a
  // progress loop, which reads the counters of getUpload instead.
  stats: {
    name: 'hrm_stats',
    text: `SELECT
        (SELECT count(*) FROM users) AS users,
        (SELECT count(*) FROM file_uploads) AS uploads_total,
        (SELECT count(*) FROM file_uploads WHERE status = 'completed') AS uploads_completed,
        (SELECT coalesce(json_object_agg(status, n), '{}')
          FROM (SELECT status, count(*) AS n FROM websites GROUP BY status) s) AS websites,
        (SELECT count(*) FROM messages) AS messages,
        (SELECT coalesce(json_object_agg(status, n), '{}')
          FROM (SELECT status, count(*) AS n FROM tasks GROUP BY status) t) AS tasks`,
  },
} as const;

interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

interface UserRow {
  id: number;
  email: string;
  password_hash: string;
  created_at: string;
}

interface UploadRow {
  id: number;
  user_id: number;
  filename: string;
  status: UploadStatus;
  rows: number;
  accepted: number;
  rejected: number;
  rejections: RowRejection[];
  scrape_done: number;
  scrape_failed: number;
  ai_done: number;
  ai_failed: number;
  created_at: string;
  completed_at: string | null;
}

interface JobRow {
  id: number;
  url: string;
  company: string | null;
  name: string | null;
  notes: string | null;
}

interface MessageRow {
  id: number;
  website_id: number;
  line_number: number;
  url: string;
  content: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  created_at: string;
}

interface TallyRow {
  rows: number;
  failed: number;
  messages: number;
  lost: number;
  in_progress: number;
  duplicated: number;
  reasons: Array<[string, number]>;
}

interface TaskRow {
  id: number;
  user_id: number;
  type: string;
  payload: unknown;
  status: TaskStatus;
  result: unknown;
  error: string | null;
  attempts: number;
  enqueued_at_ms: number;
  started_at_ms: number | null;
  completed_at_ms: number | null;
}

interface StatsRow {
  users: number;
  uploads_total: number;
  uploads_completed: number;
  websites: Record<string, number>;
  messages: number;
  tasks: Record<string, number>;
}

/** What the store says about its server in messages: never the password. */
export interface PostgresTarget {
  host: string;
  port: string;
  database: string;
  user: string;
  schema: string;
}

/**
 * The PostgreSQL store, on a pg pool. Every method is one statement (so one round trip and one
 * implicit transaction), batch methods included: their rows travel as arrays and are joined with
 * `unnest`.
 *
 * Counters of file_uploads follow from each row's state exactly as in the SQLite store: `scraped`
 * and `done` rows and AI failures count as scrape_done, scrape failures as scrape_failed, `done` as
 * ai_done, AI failures as ai_failed. Every state change is guarded by the row's current state, read
 * under a row lock, and moves the counters in the same statement; several worker processes may
 * write at once.
 *
 * Beyond Store, `poolStats()`, `acquireWaitMs` and `acquireCount` report the pool for /metrics.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';

  private acquireWaitTotalMs = 0;
  private acquires = 0;
  private closing: Promise<void> | undefined;

  /** Wraps an open pool whose connections use a migrated schema (see openPostgresStore). */
  constructor(
    private readonly pool: Pool,
    private readonly target: PostgresTarget,
  ) {}

  /** Schema holding this store's tables. */
  get schema(): string {
    return this.target.schema;
  }

  /** Connections of the pool right now. */
  poolStats(): PostgresPoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  /**
   * Milliseconds spent waiting for a connection since the store opened, summed over every call
   * (a new connection's handshake included). Divided by acquireCount: the mean wait per statement.
   */
  get acquireWaitMs(): number {
    return this.acquireWaitTotalMs;
  }

  /** Connections handed out since the store opened: one per statement. */
  get acquireCount(): number {
    return this.acquires;
  }

  async createUser(email: string, passwordHash: string): Promise<User> {
    const { rows } = await this.run<{ id: number; created_at: string }>(
      SQL.insertUser,
      [email, passwordHash],
      {
        email,
      },
    );
    const row = rows[0]!;
    return { id: row.id, email, passwordHash, createdAt: row.created_at };
  }

  async findUserByEmail(email: string): Promise<User | undefined> {
    const row = (await this.run<UserRow>(SQL.selectUserByEmail, [email])).rows[0];
    return (
      row && { id: row.id, email: row.email, passwordHash: row.password_hash, createdAt: row.created_at }
    );
  }

  async countUsers(): Promise<number> {
    return (await this.run<{ n: number }>(SQL.countUsers, [])).rows[0]?.n ?? 0;
  }

  async createUpload(userId: number, filename: string): Promise<UploadId> {
    return (await this.run<{ id: number }>(SQL.insertUpload, [userId, filename])).rows[0]!.id;
  }

  async insertWebsites(uploadId: UploadId, rows: NewWebsite[]): Promise<void> {
    const n = rows.length;
    if (n === 0) return;
    const lines = new Array<number>(n);
    const urls = new Array<string>(n);
    const companies = new Array<string | null>(n);
    const names = new Array<string | null>(n);
    const emails = new Array<string | null>(n);
    const notes = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      lines[i] = r.lineNumber;
      urls[i] = r.url;
      companies[i] = r.company;
      names[i] = r.name;
      emails[i] = r.email;
      notes[i] = r.notes;
    }
    await this.run(SQL.insertWebsites, [uploadId, lines, urls, companies, names, emails, notes]);
  }

  async finishIngest(
    uploadId: UploadId,
    summary: { rows: number; accepted: number; rejected: number; rejections: RowRejection[] },
  ): Promise<void> {
    const rejections = JSON.stringify(summary.rejections.slice(0, MAX_STORED_REJECTIONS));
    await this.run(SQL.finishIngest, [
      summary.rows,
      summary.accepted,
      summary.rejected,
      rejections,
      uploadId,
    ]);
  }

  async discardUpload(uploadId: UploadId): Promise<boolean> {
    return (await this.run(SQL.discardUpload, [uploadId])).rowCount === 1;
  }

  async getUpload(uploadId: UploadId): Promise<UploadProgress | undefined> {
    const row = (await this.run<UploadRow>(SQL.selectUpload, [uploadId])).rows[0];
    if (row === undefined) return undefined;
    return {
      id: row.id,
      userId: row.user_id,
      filename: row.filename,
      status: row.status,
      createdAt: row.created_at,
      completedAt: row.completed_at,
      ingest: { rows: row.rows, accepted: row.accepted, rejected: row.rejected, rejections: row.rejections },
      scrape: { done: row.scrape_done, failed: row.scrape_failed },
      ai: { done: row.ai_done, failed: row.ai_failed },
    };
  }

  async listUnfinishedUploads(): Promise<UploadId[]> {
    return (await this.run<{ id: number }>(SQL.selectUnfinished, [])).rows.map((r) => r.id);
  }

  async claimPending(uploadId: UploadId, limit: number): Promise<WebsiteJob[]> {
    if (!(limit >= 1)) return [];
    return toJobs(uploadId, (await this.run<JobRow>(SQL.claimPending, [uploadId, Math.floor(limit)])).rows);
  }

  async listQueued(uploadId: UploadId, afterId: number, limit: number): Promise<WebsiteJob[]> {
    const { rows } = await this.run<JobRow>(SQL.selectQueued, [
      uploadId,
      afterId,
      Math.max(1, Math.floor(limit)),
    ]);
    return toJobs(uploadId, rows);
  }

  async requeueInFlight(uploadId: UploadId): Promise<number> {
    return (await this.run<{ n: number }>(SQL.requeueInFlight, [uploadId])).rows[0]?.n ?? 0;
  }

  async saveScrapes(records: ScrapeRecord[]): Promise<void> {
    const n = records.length;
    if (n === 0) return;
    const websiteIds = new Array<number>(n);
    const uploadIds = new Array<number>(n);
    const finalUrls = new Array<string>(n);
    const httpStatuses = new Array<number>(n);
    const titles = new Array<string>(n);
    const descriptions = new Array<string>(n);
    const excerpts = new Array<string>(n);
    const scrapeMs = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      websiteIds[i] = r.websiteId;
      uploadIds[i] = r.uploadId;
      finalUrls[i] = r.finalUrl;
      httpStatuses[i] = r.httpStatus;
      titles[i] = r.title;
      descriptions[i] = r.description;
      excerpts[i] = r.excerpt;
      scrapeMs[i] = Math.round(r.scrapeMs);
    }
    await this.run(SQL.saveScrapes, [
      websiteIds,
      uploadIds,
      finalUrls,
      httpStatuses,
      titles,
      descriptions,
      excerpts,
      scrapeMs,
    ]);
  }

  async saveMessages(records: MessageRecord[]): Promise<void> {
    const n = records.length;
    if (n === 0) return;
    const websiteIds = new Array<number>(n);
    const uploadIds = new Array<number>(n);
    const contents = new Array<string>(n);
    const models = new Array<string>(n);
    const promptTokens = new Array<number>(n);
    const completionTokens = new Array<number>(n);
    const aiMs = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      websiteIds[i] = r.websiteId;
      uploadIds[i] = r.uploadId;
      contents[i] = r.content;
      models[i] = r.model;
      promptTokens[i] = r.promptTokens;
      completionTokens[i] = r.completionTokens;
      aiMs[i] = Math.round(r.aiMs);
    }
    await this.run(SQL.saveMessages, [
      websiteIds,
      uploadIds,
      contents,
      models,
      promptTokens,
      completionTokens,
      aiMs,
    ]);
  }

  async saveFailures(records: FailureRecord[]): Promise<void> {
    const n = records.length;
    if (n === 0) return;
    const websiteIds = new Array<number>(n);
    const uploadIds = new Array<number>(n);
    const stages = new Array<string>(n);
    const reasons = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      websiteIds[i] = r.websiteId;
      uploadIds[i] = r.uploadId;
      stages[i] = r.stage;
      reasons[i] = r.reason;
    }
    await this.run(SQL.saveFailures, [websiteIds, uploadIds, stages, reasons]);
  }

  async completeUploadIfDone(uploadId: UploadId): Promise<boolean> {
    const row = (await this.run<{ status: UploadStatus | null }>(SQL.completeUpload, [uploadId])).rows[0];
    return row?.status === 'completed';
  }

  async listMessages(uploadId: UploadId, opts: { limit: number; afterId?: number }): Promise<MessagePage> {
    const limit = Math.max(1, Math.floor(opts.limit));
    // One row past the page tells whether another page exists without a count query.
    const { rows } = await this.run<MessageRow>(SQL.selectMessages, [uploadId, opts.afterId ?? 0, limit + 1]);
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const items = rows.map((row) => ({
      id: row.id,
      websiteId: row.website_id,
      lineNumber: row.line_number,
      url: row.url,
      content: row.content,
      model: row.model,
      promptTokens: row.prompt_tokens,
      completionTokens: row.completion_tokens,
      createdAt: row.created_at,
    }));
    return { items, nextAfterId: more ? (items[items.length - 1]?.id ?? null) : null };
  }

  async tallyUpload(uploadId: UploadId): Promise<UploadTally> {
    const row = (await this.run<TallyRow>(SQL.tallyUpload, [uploadId, MAX_FAILURE_REASONS])).rows[0]!;
    const failuresByReason: Record<string, number> = {};
    for (const [reason, n] of row.reasons) failuresByReason[reason] = n;
    return {
      rows: row.rows,
      messages: row.messages,
      failed: row.failed,
      lost: row.lost,
      inProgress: row.in_progress,
      duplicated: row.duplicated,
      failuresByReason,
    };
  }

  async createTask(userId: number, type: string, payload: unknown): Promise<Task> {
    const payloadJson = JSON.stringify(payload ?? null);
    const enqueuedAtMs = Date.now();
    const { rows } = await this.run<{ id: number }>(SQL.insertTask, [
      userId,
      type,
      payloadJson,
      enqueuedAtMs,
    ]);
    return {
      id: rows[0]!.id,
      userId,
      type,
      // Read back through JSON so the caller sees what getTask will return (dates as strings, …).
      payload: JSON.parse(payloadJson),
      status: 'queued',
      result: null,
      error: null,
      attempts: 0,
      enqueuedAtMs,
      startedAtMs: null,
      completedAtMs: null,
    };
  }

  async getTask(id: TaskId): Promise<Task | undefined> {
    const row = (await this.run<TaskRow>(SQL.selectTask, [id])).rows[0];
    if (row === undefined) return undefined;
    return {
      id: row.id,
      userId: row.user_id,
      type: row.type,
      payload: row.payload,
      status: row.status,
      result: row.result,
      error: row.error,
      attempts: row.attempts,
      enqueuedAtMs: row.enqueued_at_ms,
      startedAtMs: row.started_at_ms,
      completedAtMs: row.completed_at_ms,
    };
  }

  async markTaskStarted(id: TaskId, attempt: number): Promise<void> {
    await this.run(SQL.startTask, [Date.now(), attempt, id]);
  }

  async completeTask(id: TaskId, result: unknown): Promise<void> {
    await this.run(SQL.completeTask, [result === undefined ? null : JSON.stringify(result), Date.now(), id]);
  }

  async failTask(id: TaskId, error: string): Promise<void> {
    await this.run(SQL.failTask, [error, Date.now(), id]);
  }

  async stats(): Promise<DashboardStats> {
    const row = (await this.run<StatsRow>(SQL.stats, [])).rows[0]!;
    const websites = zeroCounts(WEBSITE_STATUSES);
    for (const [status, n] of Object.entries(row.websites)) {
      if (status in websites) websites[status as WebsiteStatus] = n;
    }
    const tasks = zeroCounts(TASK_STATUSES);
    for (const [status, n] of Object.entries(row.tasks)) {
      if (status in tasks) tasks[status as TaskStatus] = n;
    }
    return {
      users: row.users,
      uploads: { total: row.uploads_total, completed: row.uploads_completed },
      websites,
      messages: row.messages,
      tasks,
    };
  }

  /** Ends the pool once every connection is returned; safe to call twice. */
  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }

  /**
   * Runs one named statement on a pooled connection, timing the wait for that connection, and
   * maps pg's errors to ours. A connection that failed (not the statement) is dropped from the pool.
   */
  private async run<R extends QueryResultRow = QueryResultRow>(
    statement: NamedStatement,
    values: unknown[],
    context: { email?: string } = {},
  ): Promise<QueryResult<R>> {
    if (this.closing !== undefined) {
      throw new StoreUnavailableError(`the PostgreSQL store ${describeTarget(this.target)} is closed`);
    }
    let client: PoolClient;
    const askedAtMs = performance.now();
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toStoreError(err, this.target);
    }
    this.acquireWaitTotalMs += performance.now() - askedAtMs;
    this.acquires++;
    const config: QueryConfig = { name: statement.name, text: statement.text, values };
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await client.query<R>(config);
        client.release();
        return result;
      } catch (err) {
        const retry =
          attempt < MAX_STATEMENT_ATTEMPTS &&
          err instanceof DatabaseError &&
          RETRYABLE_SQLSTATES.has(err.code!);
        if (retry) continue;
        client.release(err instanceof DatabaseError ? undefined : true);
        throw toStoreError(err, this.target, context);
      }
    }
  }
}

/**
 * Connects to PostgreSQL at `url` (`postgres://` or `postgresql://`), creates and migrates the
 * schema, and returns the store. URL query parameters `schema`, `pool_max`, `idle_timeout_ms` and
 * `connect_timeout_ms` are read (and removed) here; the rest go to pg. Throws ConfigInvalidError
 * for a malformed URL or setting, StoreUnavailableError when the server cannot be used.
 */
export async function openPostgresStore(
  url: string,
  opts: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const { pool, target } = await openPostgresPool(
    url,
    async (client, schema) => void (await migratePostgres(client, schema)),
    opts,
  );
  return new PostgresStore(pool, target);
}

/**
 * A pool on the URL's schema, migrated by `migrate` (the pipeline's tables, or another owner's such
 * as the result history), with the same URL parameters, start-up options and error mapping as the
 * store: one way to reach PostgreSQL for everything headroom keeps there.
 */
export async function openPostgresPool(
  url: string,
  migrate: (client: PoolClient, schema: string) => Promise<void>,
  opts: PostgresStoreOptions = {},
): Promise<{ pool: Pool; target: PostgresTarget; toError: (err: unknown) => unknown }> {
  const config = parsePostgresUrl(url, opts);
  const pool = new Pool({
    connectionString: config.connectionString,
    max: config.max,
    idleTimeoutMillis: config.idleTimeoutMillis,
    connectionTimeoutMillis: config.connectionTimeoutMillis,
    // Set at connection start-up: no extra round trip per connection, and no statement can run
    // before it is in force.
    options: config.options,
    application_name: 'headroom',
    types: PG_TYPES,
  });
  // An idle connection that the server closes (restart, idle timeout on its side) is reported here;
  // pg has already dropped it, and the next statement opens a new one. Without a listener the
  // 'error' event would end the process.
  pool.on('error', () => undefined);
  let client: PoolClient | undefined;
  try {
    client = await pool.connect();
    await migrate(client, config.target.schema);
    client.release();
  } catch (err) {
    client?.release(true);
    await pool.end().catch(() => undefined);
    throw toStoreError(err, config.target);
  }
  return { pool, target: config.target, toError: (err) => toStoreError(err, config.target) };
}

interface ParsedPostgresUrl {
  connectionString: string;
  options: string;
  max: number;
  idleTimeoutMillis: number;
  connectionTimeoutMillis: number;
  target: PostgresTarget;
}

/**
 * A schema name that needs no quoting: it goes into the start-up option `-c search_path=…`, where a
 * space or a quote would need escaping, and unquoted it would be folded to lower case anyway.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function parsePostgresUrl(url: string, opts: PostgresStoreOptions): ParsedPostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ConfigInvalidError('store URL', [
      `${redactPassword(url)}: not a URL (${err instanceof Error ? err.message : String(err)}); write postgres://user@host:5432/database`,
    ]);
  }
  if (!/^postgres(ql)?:$/i.test(parsed.protocol)) {
    throw new ConfigInvalidError('store URL', [`${redactPassword(url)}: not a postgres:// URL`]);
  }
  const params = parsed.searchParams;
  const problems: string[] = [];
  const take = (key: string): string | undefined => {
    const value = params.get(key) ?? undefined;
    params.delete(key);
    return value;
  };
  const integer = (key: string, given: number | undefined, min: number, fallback: number): number => {
    const raw = take(key);
    const value = given ?? (raw === undefined ? fallback : Number(raw));
    if (!Number.isInteger(value) || value < min) {
      problems.push(`${key}: must be an integer >= ${min} (got ${JSON.stringify(given ?? raw)})`);
      return fallback;
    }
    return value;
  };
  const schemaParam = take('schema');
  const schema = opts.schema ?? schemaParam ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    problems.push(
      `schema: must be lower-case letters, digits and _ (at most 63, not starting with a digit); got ${JSON.stringify(schema)}`,
    );
  }
  const max = integer('pool_max', opts.pool?.max, 1, DEFAULT_POOL_MAX);
  const idleTimeoutMillis = integer(
    'idle_timeout_ms',
    opts.pool?.idleTimeoutMillis,
    0,
    DEFAULT_IDLE_TIMEOUT_MS,
  );
  const connectionTimeoutMillis = integer(
    'connect_timeout_ms',
    opts.pool?.connectionTimeoutMillis,
    0,
    DEFAULT_CONNECT_TIMEOUT_MS,
  );
  if (problems.length > 0) throw new ConfigInvalidError(`store URL ${redactPassword(url)}`, problems);
  // pg lets the URL's own `options` win over the pool's; fold it into ours instead.
  const urlOptions = take('options');
  const options = [urlOptions, `-c search_path=${schema}`].filter(Boolean).join(' ');
  return {
    connectionString: parsed.toString(),
    options,
    max,
    idleTimeoutMillis,
    connectionTimeoutMillis,
    target: {
      host: params.get('host') ?? (parsed.hostname || 'localhost'),
      port: params.get('port') ?? (parsed.port || '5432'),
      database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username),
      user: decodeURIComponent(parsed.username) || 'the current OS user',
      schema,
    },
  };
}

function describeTarget(t: PostgresTarget): string {
  return `${t.host}:${t.port}/${t.database} (schema ${t.schema})`;
}

/** Error messages end up in logs and terminals: never echo a password from a connection URL. */
function redactPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** SQLSTATE classes and codes that say the server, not the statement, is the problem. */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(['08', '28', '53', '57']);
const UNAVAILABLE_SQLSTATES = new Set(['3D000', '25006']);
/** Socket errors of reaching the server. */
const UNAVAILABLE_SYSCALL_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT',
]);
/** pg raises these without a code: a lost connection, a connect timeout, a pool already ended. */
const PG_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client has encountered a connection error)/;

/**
 * The one place where pg errors become ours. The driver's error stays as `cause`; anything not
 * listed here is a bug (a wrong statement) and is rethrown as it is.
 */
function toStoreError(err: unknown, target: PostgresTarget, context: { email?: string } = {}): unknown {
  if (err instanceof HeadroomError) return err;
  if (err instanceof DatabaseError) {
    const code = err.code ?? '';
    if (code === '23505' && err.constraint === 'users_email_key' && context.email !== undefined) {
      return new UserExistsError(context.email);
    }
    if (code === '3D000') {
      return new StoreUnavailableError(
        `the PostgreSQL database ${target.database} does not exist at ${target.host}:${target.port}: create it with createdb -h ${target.host} -p ${target.port} -U ${target.user} ${target.database}. ${START_HINT_SENTENCE}`,
        { cause: err },
      );
    }
    if (code.startsWith('28')) {
      return new StoreUnavailableError(
        `PostgreSQL at ${target.host}:${target.port} refused user ${target.user}: ${err.message} (${code}); check the user and password of the store URL. ${START_HINT_SENTENCE}`,
        { cause: err },
      );
    }
    if (UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_SQLSTATES.has(code)) {
      return new StoreUnavailableError(
        `PostgreSQL at ${describeTarget(target)} cannot serve the store: ${err.message} (${code}). ${START_HINT_SENTENCE}`,
        { cause: err },
      );
    }
    return err;
  }
  if (err instanceof Error) {
    const syscallCode = (err as NodeJS.ErrnoException).code;
    if (
      (syscallCode !== undefined && UNAVAILABLE_SYSCALL_CODES.has(syscallCode)) ||
      PG_CONNECTION_MESSAGES.test(err.message)
    ) {
      return new StoreUnavailableError(
        `cannot reach PostgreSQL at ${describeTarget(target)}: ${err.message}. ${START_HINT_SENTENCE}`,
        { cause: err },
      );
    }
  }
  return err;
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  const counts = {} as Record<K, number>;
  for (const k of keys) counts[k] = 0;
  return counts;
}

function toJobs(uploadId: UploadId, rows: JobRow[]): WebsiteJob[] {
  const jobs: WebsiteJob[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    jobs[i] = { websiteId: r.id, uploadId, url: r.url, company: r.company, name: r.name, notes: r.notes };
  }
  return jobs;
}
