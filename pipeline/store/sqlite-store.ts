import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError, UserExistsError } from '../../errors.js';
import { migrateSqlite } from './sqlite-migrations.js';
import type {
  DashboardStats,
  FailureRecord,
  FailureStage,
  Message,
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

/** Only the first rejections are kept: enough to show the uploader, bounded for a bad 500k-row file. */
const MAX_STORED_REJECTIONS = 1_000;
/** The tally names the most frequent failure reasons only; the long tail adds nothing to a report. */
const MAX_FAILURE_REASONS = 20;
/**
 * insertWebsites binds this many rows per statement: one native call per 100 rows instead of one per
 * row, and the upload id and timestamp bound once per statement instead of once per row (binding
 * strings is a large share of an insert's CPU). 100 × 6 parameters stays far below SQLite's limit
 * of 32,766 bound parameters.
 */
const INSERT_CHUNK_ROWS = 100;
const WEBSITE_ROW_PARAMS = 6;
/**
 * How long a writer waits for another process's write lock before giving up with SQLITE_BUSY.
 * Write transactions here take milliseconds; 5 s only runs out when something is stuck.
 */
const BUSY_TIMEOUT_MS = 5_000;

const WEBSITE_STATUSES: readonly WebsiteStatus[] = ['pending', 'queued', 'scraped', 'done', 'failed'];
const TASK_STATUSES: readonly TaskStatus[] = ['queued', 'running', 'completed', 'failed'];

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
  rejections: string;
  scrape_done: number;
  scrape_failed: number;
  ai_done: number;
  ai_failed: number;
  created_at: string;
  completed_at: string | null;
}

interface PendingRow {
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

interface TaskRow {
  id: number;
  user_id: number;
  type: string;
  payload: string;
  status: TaskStatus;
  result: string | null;
  error: string | null;
  attempts: number;
  enqueued_at_ms: number;
  started_at_ms: number | null;
  completed_at_ms: number | null;
}

interface StatusCountRow {
  status: string;
  n: number;
}

/**
 * Counter moves of one batch, summed per upload so a batch of hundreds of rows costs one UPDATE of
 * file_uploads per upload it touches, not one per row.
 */
class CounterDeltas {
  private readonly byUpload = new Map<UploadId, [number, number, number, number]>();

  add(uploadId: UploadId, scrapeDone: number, scrapeFailed: number, aiDone: number, aiFailed: number): void {
    const d = this.byUpload.get(uploadId);
    if (d === undefined) {
      this.byUpload.set(uploadId, [scrapeDone, scrapeFailed, aiDone, aiFailed]);
      return;
    }
    d[0] += scrapeDone;
    d[1] += scrapeFailed;
    d[2] += aiDone;
    d[3] += aiFailed;
  }

  apply(bump: Database.Statement<[number, number, number, number, UploadId]>): void {
    for (const [uploadId, d] of this.byUpload) {
      if (d[0] !== 0 || d[1] !== 0 || d[2] !== 0 || d[3] !== 0) bump.run(d[0], d[1], d[2], d[3], uploadId);
    }
  }
}

/**
 * The embedded store: one better-sqlite3 connection in WAL mode. Every batch method is one write
 * transaction taken with BEGIN IMMEDIATE, so a second process on the same file waits for the lock
 * (busy_timeout) instead of failing half-way through a read-then-write.
 *
 * Counters of file_uploads follow from each row's state: `scraped` and `done` rows and AI failures
 * count as scrape_done, scrape failures as scrape_failed, `done` as ai_done, AI failures as
 * ai_failed. Every state change is a guarded UPDATE whose `changes` moves the counters in the same
 * transaction, so a replayed or duplicate write moves nothing.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';

  private readonly insertUser;
  private readonly selectUserByEmail;
  private readonly countUsersStmt;
  private readonly insertUpload;
  private readonly insertWebsiteChunk;
  private readonly insertWebsiteOne;
  private readonly finishIngestStmt;
  private readonly selectUpload;
  private readonly selectUnfinished;
  private readonly selectPending;
  private readonly selectQueued;
  private readonly markQueued;
  private readonly resetScraped;
  private readonly resetQueued;
  private readonly markScraped;
  private readonly markDoneFromScraped;
  private readonly markDoneFromWaiting;
  private readonly insertMessage;
  private readonly markFailedFromWaiting;
  private readonly markFailedFromScraped;
  private readonly bumpCounters;
  private readonly completeUpload;
  private readonly selectUploadStatus;
  private readonly selectMessages;
  private readonly tallyRows;
  private readonly tallyMessages;
  private readonly tallyLost;
  private readonly tallyInProgress;
  private readonly tallyDuplicated;
  private readonly tallyReasons;
  private readonly insertTask;
  private readonly selectTask;
  private readonly startTask;
  private readonly completeTaskStmt;
  private readonly failTaskStmt;
  private readonly countUploads;
  private readonly countWebsitesByStatus;
  private readonly countMessages;
  private readonly countTasksByStatus;

  private readonly insertWebsitesTx;
  private readonly discardTx;
  private readonly finishIngestTx;
  private readonly claimTx;
  private readonly requeueTx;
  private readonly saveScrapesTx;
  private readonly saveMessagesTx;
  private readonly saveFailuresTx;
  private readonly completeTx;
  private readonly tallyTx;
  private readonly statsTx;

  /** Wraps an open, migrated connection (see openSqliteStore). Statements are prepared once, here. */
  constructor(private readonly db: Database.Database) {
    const ingesting = db
      .prepare<[UploadId], number>("SELECT count(*) FROM file_uploads WHERE id = ? AND status = 'ingesting'")
      .pluck();
    const deleteMessages = db.prepare<[UploadId]>('DELETE FROM messages WHERE file_upload_id = ?');
    const deleteWebsites = db.prepare<[UploadId]>('DELETE FROM websites WHERE file_upload_id = ?');
    const deleteUpload = db.prepare<[UploadId]>('DELETE FROM file_uploads WHERE id = ?');
    this.discardTx = db.transaction((uploadId: UploadId): boolean => {
      if (ingesting.get(uploadId) !== 1) return false;
      deleteMessages.run(uploadId);
      deleteWebsites.run(uploadId);
      deleteUpload.run(uploadId);
      return true;
    });
    this.insertUser = db.prepare<[string, string, string]>(
      'INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)',
    );
    this.selectUserByEmail = db.prepare<[string], UserRow>(
      'SELECT id, email, password_hash, created_at FROM users WHERE email = ?',
    );
    this.countUsersStmt = db.prepare<[], number>('SELECT count(*) FROM users').pluck();

    this.insertUpload = db.prepare<[number, string, string]>(
      'INSERT INTO file_uploads (user_id, filename, created_at) VALUES (?, ?, ?)',
    );
    const insertWebsite =
      'INSERT INTO websites (file_upload_id, line_number, url, company, name, email, notes, created_at, updated_at) VALUES ';
    // A line already stored is skipped, so an ingest that is replayed after a crash inserts nothing twice.
    const onLineConflict = ' ON CONFLICT (file_upload_id, line_number) DO NOTHING';
    this.insertWebsiteChunk = db.prepare<[unknown[], { uploadId: UploadId; now: string }]>(
      insertWebsite +
        new Array(INSERT_CHUNK_ROWS).fill('(@uploadId, ?, ?, ?, ?, ?, ?, @now, @now)').join(', ') +
        onLineConflict,
    );
    this.insertWebsiteOne = db.prepare<
      [UploadId, number, string, string | null, string | null, string | null, string | null, string, string]
    >(`${insertWebsite}(?, ?, ?, ?, ?, ?, ?, ?, ?)${onLineConflict}`);
    // A second call is ignored. An upload whose rows all finished while it was still ingesting (or
    // that accepted none) completes here, since no row event is left to complete it.
    this.finishIngestStmt = db.prepare<[number, number, number, string, number, number, string, UploadId]>(
      `UPDATE file_uploads SET rows = ?, accepted = ?, rejected = ?, rejections = ?,
         status = CASE WHEN scrape_failed + ai_done + ai_failed >= ? THEN 'completed' ELSE 'processing' END,
         completed_at = CASE WHEN scrape_failed + ai_done + ai_failed >= ? THEN ? ELSE NULL END
       WHERE id = ? AND status = 'ingesting'`,
    );
    this.selectUpload = db.prepare<[UploadId], UploadRow>(
      `SELECT id, user_id, filename, status, rows, accepted, rejected, rejections, scrape_done,
         scrape_failed, ai_done, ai_failed, created_at, completed_at
       FROM file_uploads WHERE id = ?`,
    );
    this.selectUnfinished = db
      .prepare<[], number>("SELECT id FROM file_uploads WHERE status <> 'completed' ORDER BY id")
      .pluck();

    this.selectQueued = db.prepare<[UploadId, number, number], PendingRow>(
      `SELECT id, url, company, name, notes FROM websites
       WHERE file_upload_id = ? AND status = 'queued' AND id > ? ORDER BY id LIMIT ?`,
    );
    this.selectPending = db.prepare<[UploadId, number], PendingRow>(
      `SELECT id, url, company, name, notes FROM websites
       WHERE file_upload_id = ? AND status = 'pending' ORDER BY id LIMIT ?`,
    );
    // Inside the claim's write transaction the pending rows up to the last id selected are exactly
    // the rows selected, so one range UPDATE marks them all.
    this.markQueued = db.prepare<[string, UploadId, number, number]>(
      `UPDATE websites SET status = 'queued', updated_at = ?
       WHERE file_upload_id = ? AND status = 'pending' AND id BETWEEN ? AND ?`,
    );
    this.resetScraped = db.prepare<[string, UploadId]>(
      `UPDATE websites SET status = 'pending', final_url = NULL, http_status = NULL, title = NULL,
         description = NULL, excerpt = NULL, scrape_ms = NULL, updated_at = ?
       WHERE file_upload_id = ? AND status = 'scraped'`,
    );
    this.resetQueued = db.prepare<[string, UploadId]>(
      `UPDATE websites SET status = 'pending', updated_at = ?
       WHERE file_upload_id = ? AND status = 'queued'`,
    );

    // `pending` is accepted as well as `queued`: a job from before a requeue may still finish.
    this.markScraped = db.prepare<[string, number, string, string, string, number, string, number, UploadId]>(
      `UPDATE websites SET status = 'scraped', final_url = ?, http_status = ?, title = ?, description = ?,
         excerpt = ?, scrape_ms = ?, updated_at = ?
       WHERE id = ? AND file_upload_id = ? AND status IN ('pending', 'queued')`,
    );
    this.markDoneFromScraped = db.prepare<[string, number, UploadId]>(
      `UPDATE websites SET status = 'done', updated_at = ?
       WHERE id = ? AND file_upload_id = ? AND status = 'scraped'`,
    );
    // A message can be written before its scrape record when the two are flushed by different
    // batchers; the row then skips `scraped`, and its scrape is counted here.
    this.markDoneFromWaiting = db.prepare<[string, number, UploadId]>(
      `UPDATE websites SET status = 'done', updated_at = ?
       WHERE id = ? AND file_upload_id = ? AND status IN ('pending', 'queued')`,
    );
    this.insertMessage = db.prepare<[number, UploadId, string, string, number, number, number, string]>(
      `INSERT INTO messages (website_id, file_upload_id, content, model, prompt_tokens, completion_tokens,
         ai_ms, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (website_id) DO NOTHING`,
    );
    this.markFailedFromWaiting = db.prepare<[FailureStage, string, string, number, UploadId]>(
      `UPDATE websites SET status = 'failed', failure_stage = ?, failure_reason = ?, updated_at = ?
       WHERE id = ? AND file_upload_id = ? AND status IN ('pending', 'queued')`,
    );
    this.markFailedFromScraped = db.prepare<[FailureStage, string, string, number, UploadId]>(
      `UPDATE websites SET status = 'failed', failure_stage = ?, failure_reason = ?, updated_at = ?
       WHERE id = ? AND file_upload_id = ? AND status = 'scraped'`,
    );
    this.bumpCounters = db.prepare<[number, number, number, number, UploadId]>(
      `UPDATE file_uploads SET scrape_done = scrape_done + ?, scrape_failed = scrape_failed + ?,
         ai_done = ai_done + ?, ai_failed = ai_failed + ?
       WHERE id = ?`,
    );
    // Each accepted row ends in exactly one of scrape_failed, ai_done, ai_failed.
    this.completeUpload = db.prepare<[string, UploadId]>(
      `UPDATE file_uploads SET status = 'completed', completed_at = ?
       WHERE id = ? AND status = 'processing' AND scrape_failed + ai_done + ai_failed >= accepted`,
    );
    this.selectUploadStatus = db
      .prepare<[UploadId], UploadStatus>('SELECT status FROM file_uploads WHERE id = ?')
      .pluck();

    this.selectMessages = db.prepare<[UploadId, number, number], MessageRow>(
      `SELECT m.id, m.website_id, w.line_number, w.url, m.content, m.model, m.prompt_tokens,
         m.completion_tokens, m.created_at
       FROM messages m JOIN websites w ON w.id = m.website_id
       WHERE m.file_upload_id = ? AND m.id > ?
       ORDER BY m.id LIMIT ?`,
    );

    this.tallyRows = db.prepare<[UploadId], { rows: number; failed: number | null }>(
      `SELECT count(*) AS rows,
         sum(CASE WHEN status = 'failed' AND failure_reason IS NOT NULL THEN 1 ELSE 0 END) AS failed
       FROM websites WHERE file_upload_id = ?`,
    );
    this.tallyMessages = db
      .prepare<[UploadId], number>(
        // Each website is counted once by construction, with no DISTINCT sort over 500k ids.
        `SELECT count(*) FROM websites w
         WHERE w.file_upload_id = ? AND EXISTS (SELECT 1 FROM messages m WHERE m.website_id = w.id)`,
      )
      .pluck();
    this.tallyLost = db
      .prepare<[UploadId], number>(
        `SELECT count(*) FROM websites w
         WHERE w.file_upload_id = ?
           AND NOT (w.status = 'failed' AND w.failure_reason IS NOT NULL)
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.website_id = w.id)`,
      )
      .pluck();
    this.tallyInProgress = db
      .prepare<[UploadId], number>(
        `SELECT count(*) FROM websites w
         WHERE w.file_upload_id = ? AND w.status IN ('pending', 'queued', 'scraped')
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.website_id = w.id)`,
      )
      .pluck();
    // Counted although UNIQUE (website_id) makes it 0: the tally checks the schema too, not just the code.
    this.tallyDuplicated = db
      .prepare<[UploadId], number>(
        `SELECT count(*) FROM (
           SELECT m.website_id FROM messages m
           JOIN websites w ON w.id = m.website_id
           WHERE w.file_upload_id = ?
           GROUP BY m.website_id HAVING count(*) > 1
         ) d`,
      )
      .pluck();
    this.tallyReasons = db.prepare<[UploadId, number], { reason: string; n: number }>(
      `SELECT failure_stage || ': ' || failure_reason AS reason, count(*) AS n
       FROM websites
       WHERE file_upload_id = ? AND status = 'failed' AND failure_reason IS NOT NULL
       GROUP BY failure_stage, failure_reason
       ORDER BY n DESC, reason
       LIMIT ?`,
    );

    this.insertTask = db.prepare<[number, string, string, number]>(
      `INSERT INTO tasks (user_id, type, payload, status, attempts, enqueued_at_ms)
       VALUES (?, ?, ?, 'queued', 0, ?)`,
    );
    this.selectTask = db.prepare<[TaskId], TaskRow>(
      `SELECT id, user_id, type, payload, status, result, error, attempts, enqueued_at_ms, started_at_ms,
         completed_at_ms
       FROM tasks WHERE id = ?`,
    );
    // A completed task stays completed: a duplicate delivery of its job must not reopen it.
    this.startTask = db.prepare<[number, number, TaskId]>(
      `UPDATE tasks SET status = 'running', started_at_ms = coalesce(started_at_ms, ?), attempts = ?
       WHERE id = ? AND status <> 'completed'`,
    );
    this.completeTaskStmt = db.prepare<[string | null, number, TaskId]>(
      `UPDATE tasks SET status = 'completed', result = ?, error = NULL, completed_at_ms = ?
       WHERE id = ? AND status <> 'completed'`,
    );
    this.failTaskStmt = db.prepare<[string, number, TaskId]>(
      `UPDATE tasks SET status = 'failed', error = ?, completed_at_ms = ?
       WHERE id = ? AND status <> 'completed'`,
    );

    this.countUploads = db.prepare<[], { total: number; completed: number | null }>(
      `SELECT count(*) AS total, sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed
       FROM file_uploads`,
    );
    // The dashboard counts below scan whole indexes (O(rows)): fine for a page polled by people, not
    // for a progress loop, which reads the counters of getUpload instead.
    this.countWebsitesByStatus = db.prepare<[], StatusCountRow>(
      'SELECT status, count(*) AS n FROM websites GROUP BY status',
    );
    this.countMessages = db.prepare<[], number>('SELECT count(*) FROM messages').pluck();
    this.countTasksByStatus = db.prepare<[], StatusCountRow>(
      'SELECT status, count(*) AS n FROM tasks GROUP BY status',
    );

    this.insertWebsitesTx = db.transaction(this.insertWebsitesNow.bind(this));
    this.finishIngestTx = db.transaction(
      (
        uploadId: UploadId,
        s: { rows: number; accepted: number; rejected: number; rejections: RowRejection[] },
      ) => {
        const now = isoNow();
        const rejections = JSON.stringify(s.rejections.slice(0, MAX_STORED_REJECTIONS));
        this.finishIngestStmt.run(
          s.rows,
          s.accepted,
          s.rejected,
          rejections,
          s.accepted,
          s.accepted,
          now,
          uploadId,
        );
      },
    );
    this.claimTx = db.transaction(this.claimNow.bind(this));
    this.requeueTx = db.transaction((uploadId: UploadId): number => {
      const now = isoNow();
      const scraped = this.resetScraped.run(now, uploadId).changes;
      const queued = this.resetQueued.run(now, uploadId).changes;
      if (scraped > 0) this.bumpCounters.run(-scraped, 0, 0, 0, uploadId);
      return scraped + queued;
    });
    this.saveScrapesTx = db.transaction(this.saveScrapesNow.bind(this));
    this.saveMessagesTx = db.transaction(this.saveMessagesNow.bind(this));
    this.saveFailuresTx = db.transaction(this.saveFailuresNow.bind(this));
    this.completeTx = db.transaction((uploadId: UploadId): boolean => {
      this.completeUpload.run(isoNow(), uploadId);
      return this.selectUploadStatus.get(uploadId) === 'completed';
    });
    this.tallyTx = db.transaction(this.tallyNow.bind(this));
    this.statsTx = db.transaction(this.statsNow.bind(this));
  }

  async createUser(email: string, passwordHash: string): Promise<User> {
    try {
      const createdAt = isoNow();
      const id = Number(this.insertUser.run(email, passwordHash, createdAt).lastInsertRowid);
      return { id, email, passwordHash, createdAt };
    } catch (err) {
      throw toStoreError(err, this.db, { email });
    }
  }

  async findUserByEmail(email: string): Promise<User | undefined> {
    try {
      const row = this.selectUserByEmail.get(email);
      return (
        row && { id: row.id, email: row.email, passwordHash: row.password_hash, createdAt: row.created_at }
      );
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async countUsers(): Promise<number> {
    try {
      return this.countUsersStmt.get() ?? 0;
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async createUpload(userId: number, filename: string): Promise<UploadId> {
    try {
      return Number(this.insertUpload.run(userId, filename, isoNow()).lastInsertRowid);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async discardUpload(uploadId: UploadId): Promise<boolean> {
    try {
      return this.discardTx.immediate(uploadId);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async insertWebsites(uploadId: UploadId, rows: NewWebsite[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      this.insertWebsitesTx.immediate(uploadId, rows);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async finishIngest(
    uploadId: UploadId,
    summary: { rows: number; accepted: number; rejected: number; rejections: RowRejection[] },
  ): Promise<void> {
    try {
      this.finishIngestTx.immediate(uploadId, summary);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async getUpload(uploadId: UploadId): Promise<UploadProgress | undefined> {
    try {
      const row = this.selectUpload.get(uploadId);
      if (row === undefined) return undefined;
      return {
        id: row.id,
        userId: row.user_id,
        filename: row.filename,
        status: row.status,
        createdAt: row.created_at,
        completedAt: row.completed_at,
        ingest: {
          rows: row.rows,
          accepted: row.accepted,
          rejected: row.rejected,
          rejections: JSON.parse(row.rejections) as RowRejection[],
        },
        scrape: { done: row.scrape_done, failed: row.scrape_failed },
        ai: { done: row.ai_done, failed: row.ai_failed },
      };
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async listUnfinishedUploads(): Promise<UploadId[]> {
    try {
      return this.selectUnfinished.all();
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async claimPending(uploadId: UploadId, limit: number): Promise<WebsiteJob[]> {
    if (!(limit >= 1)) return [];
    try {
      return this.claimTx.immediate(uploadId, Math.floor(limit));
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async listQueued(uploadId: UploadId, afterId: number, limit: number): Promise<WebsiteJob[]> {
    try {
      return toJobs(uploadId, this.selectQueued.all(uploadId, afterId, Math.max(1, Math.floor(limit))));
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async requeueInFlight(uploadId: UploadId): Promise<number> {
    try {
      return this.requeueTx.immediate(uploadId);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async saveScrapes(records: ScrapeRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      this.saveScrapesTx.immediate(records);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async saveMessages(records: MessageRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      this.saveMessagesTx.immediate(records);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async saveFailures(records: FailureRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      this.saveFailuresTx.immediate(records);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async completeUploadIfDone(uploadId: UploadId): Promise<boolean> {
    try {
      return this.completeTx.immediate(uploadId);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async listMessages(uploadId: UploadId, opts: { limit: number; afterId?: number }): Promise<MessagePage> {
    const limit = Math.max(1, Math.floor(opts.limit));
    try {
      // One row past the page tells whether another page exists without a count query.
      const rows = this.selectMessages.all(uploadId, opts.afterId ?? 0, limit + 1);
      const more = rows.length > limit;
      if (more) rows.length = limit;
      const items = rows.map(toMessage);
      return { items, nextAfterId: more ? (items[items.length - 1]?.id ?? null) : null };
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async tallyUpload(uploadId: UploadId): Promise<UploadTally> {
    try {
      // A read transaction: every count sees the same snapshot even while workers keep writing.
      return this.tallyTx.deferred(uploadId);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async createTask(userId: number, type: string, payload: unknown): Promise<Task> {
    try {
      const payloadJson = JSON.stringify(payload ?? null);
      const enqueuedAtMs = Date.now();
      const id = Number(this.insertTask.run(userId, type, payloadJson, enqueuedAtMs).lastInsertRowid);
      return {
        id,
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
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async getTask(id: TaskId): Promise<Task | undefined> {
    try {
      const row = this.selectTask.get(id);
      if (row === undefined) return undefined;
      return {
        id: row.id,
        userId: row.user_id,
        type: row.type,
        payload: JSON.parse(row.payload),
        status: row.status,
        result: row.result === null ? null : JSON.parse(row.result),
        error: row.error,
        attempts: row.attempts,
        enqueuedAtMs: row.enqueued_at_ms,
        startedAtMs: row.started_at_ms,
        completedAtMs: row.completed_at_ms,
      };
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async markTaskStarted(id: TaskId, attempt: number): Promise<void> {
    try {
      this.startTask.run(Date.now(), attempt, id);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async completeTask(id: TaskId, result: unknown): Promise<void> {
    try {
      this.completeTaskStmt.run(result === undefined ? null : JSON.stringify(result), Date.now(), id);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async failTask(id: TaskId, error: string): Promise<void> {
    try {
      this.failTaskStmt.run(error, Date.now(), id);
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  async stats(): Promise<DashboardStats> {
    try {
      return this.statsTx.deferred();
    } catch (err) {
      throw toStoreError(err, this.db);
    }
  }

  /** Closes the connection (WAL is checkpointed by SQLite on close); safe to call twice. */
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private insertWebsitesNow(uploadId: UploadId, rows: NewWebsite[]): void {
    const now = isoNow();
    const fullChunks = Math.floor(rows.length / INSERT_CHUNK_ROWS);
    if (fullChunks > 0) {
      const shared = { uploadId, now };
      const params: unknown[] = new Array(INSERT_CHUNK_ROWS * WEBSITE_ROW_PARAMS);
      for (let chunk = 0; chunk < fullChunks; chunk++) {
        let p = 0;
        const end = (chunk + 1) * INSERT_CHUNK_ROWS;
        for (let i = chunk * INSERT_CHUNK_ROWS; i < end; i++) {
          const r = rows[i]!;
          params[p++] = r.lineNumber;
          params[p++] = r.url;
          params[p++] = r.company;
          params[p++] = r.name;
          params[p++] = r.email;
          params[p++] = r.notes;
        }
        this.insertWebsiteChunk.run(params, shared);
      }
    }
    for (let i = fullChunks * INSERT_CHUNK_ROWS; i < rows.length; i++) {
      const r = rows[i]!;
      this.insertWebsiteOne.run(uploadId, r.lineNumber, r.url, r.company, r.name, r.email, r.notes, now, now);
    }
  }

  private claimNow(uploadId: UploadId, limit: number): WebsiteJob[] {
    const rows = this.selectPending.all(uploadId, limit);
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (first === undefined || last === undefined) return [];
    this.markQueued.run(isoNow(), uploadId, first.id, last.id);
    return toJobs(uploadId, rows);
  }

  private saveScrapesNow(records: ScrapeRecord[]): void {
    const now = isoNow();
    const deltas = new CounterDeltas();
    for (const r of records) {
      const changed = this.markScraped.run(
        r.finalUrl,
        r.httpStatus,
        r.title,
        r.description,
        r.excerpt,
        Math.round(r.scrapeMs),
        now,
        r.websiteId,
        r.uploadId,
      ).changes;
      if (changed > 0) deltas.add(r.uploadId, changed, 0, 0, 0);
    }
    deltas.apply(this.bumpCounters);
  }

  private saveMessagesNow(records: MessageRecord[]): void {
    const now = isoNow();
    const deltas = new CounterDeltas();
    for (const r of records) {
      let scraped = 0;
      let done = this.markDoneFromScraped.run(now, r.websiteId, r.uploadId).changes;
      if (done === 0) {
        done = this.markDoneFromWaiting.run(now, r.websiteId, r.uploadId).changes;
        scraped = done;
      }
      // No state change means the row is already done or failed: its outcome is final, the message is dropped.
      if (done === 0) continue;
      this.insertMessage.run(
        r.websiteId,
        r.uploadId,
        r.content,
        r.model,
        r.promptTokens,
        r.completionTokens,
        Math.round(r.aiMs),
        now,
      );
      deltas.add(r.uploadId, scraped, 0, done, 0);
    }
    deltas.apply(this.bumpCounters);
  }

  private saveFailuresNow(records: FailureRecord[]): void {
    const now = isoNow();
    const deltas = new CounterDeltas();
    for (const r of records) {
      const ai = r.stage === 'ai' ? 1 : 0;
      const scrape = 1 - ai;
      if (this.markFailedFromWaiting.run(r.stage, r.reason, now, r.websiteId, r.uploadId).changes > 0) {
        // An AI failure implies the scrape succeeded, even if its record was never written.
        deltas.add(r.uploadId, ai, scrape, 0, ai);
      } else if (
        this.markFailedFromScraped.run(r.stage, r.reason, now, r.websiteId, r.uploadId).changes > 0
      ) {
        // The row was counted in scrape_done; a scrape-stage failure takes that back.
        deltas.add(r.uploadId, -scrape, scrape, 0, ai);
      }
    }
    deltas.apply(this.bumpCounters);
  }

  private tallyNow(uploadId: UploadId): UploadTally {
    const counts = this.tallyRows.get(uploadId);
    const failuresByReason: Record<string, number> = {};
    for (const { reason, n } of this.tallyReasons.all(uploadId, MAX_FAILURE_REASONS)) {
      failuresByReason[reason] = n;
    }
    return {
      rows: counts?.rows ?? 0,
      messages: this.tallyMessages.get(uploadId) ?? 0,
      failed: counts?.failed ?? 0,
      lost: this.tallyLost.get(uploadId) ?? 0,
      inProgress: this.tallyInProgress.get(uploadId) ?? 0,
      duplicated: this.tallyDuplicated.get(uploadId) ?? 0,
      failuresByReason,
    };
  }

  private statsNow(): DashboardStats {
    const uploads = this.countUploads.get();
    const websites = zeroCounts(WEBSITE_STATUSES);
    for (const { status, n } of this.countWebsitesByStatus.all()) {
      if (status in websites) websites[status as WebsiteStatus] = n;
    }
    const tasks = zeroCounts(TASK_STATUSES);
    for (const { status, n } of this.countTasksByStatus.all()) {
      if (status in tasks) tasks[status as TaskStatus] = n;
    }
    return {
      users: this.countUsersStmt.get() ?? 0,
      uploads: { total: uploads?.total ?? 0, completed: uploads?.completed ?? 0 },
      websites,
      messages: this.countMessages.get() ?? 0,
      tasks,
    };
  }
}

/**
 * Opens (creating if needed) a SQLite database at `file`, or an in-memory one for ':memory:',
 * tunes it for the pipeline's write pattern and runs the migrations.
 * Throws StoreUnavailableError when the file cannot be opened or is not a database.
 */
export function openSqliteStore(file: string): SqliteStore {
  let db: Database.Database | undefined;
  try {
    if (file !== ':memory:' && file !== '') mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    // WAL lets the API read progress while workers write. synchronous=NORMAL skips the fsync on each
    // commit (a power cut may lose the last commits, never corrupt the file): the pipeline commits
    // tens of batches a second, and a lost batch is redone after requeueInFlight.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    migrateSqlite(db);
    return new SqliteStore(db);
  } catch (err) {
    if (db?.open) db.close();
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(
      `cannot open the SQLite database ${file}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * The one place where better-sqlite3 errors become ours. The driver's error stays as `cause`;
 * anything not listed here is a bug and is rethrown as it is.
 */
function toStoreError(err: unknown, db: Database.Database, context: { email?: string } = {}): unknown {
  if (err instanceof Database.SqliteError) {
    // SQLite names the violated column only in the message; createUser is the only caller that
    // can break users.email.
    if (
      err.code === 'SQLITE_CONSTRAINT_UNIQUE' &&
      context.email !== undefined &&
      err.message.includes('users.email')
    ) {
      return new UserExistsError(context.email);
    }
    if (UNAVAILABLE_CODES.has(primaryCode(err.code))) {
      return new StoreUnavailableError(
        `the SQLite database ${db.name} failed: ${err.message} (${err.code})`,
        {
          cause: err,
        },
      );
    }
    return err;
  }
  if (!db.open) return new StoreUnavailableError(`the SQLite database ${db.name} is closed`, { cause: err });
  return err;
}

/** Primary result codes that say the database, not the query, is the problem. */
const UNAVAILABLE_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_PERM',
  'SQLITE_PROTOCOL',
]);

/** `SQLITE_IOERR_SHORT_READ` → `SQLITE_IOERR`. */
function primaryCode(code: string): string {
  const second = code.indexOf('_', 'SQLITE_'.length);
  return second === -1 ? code : code.slice(0, second);
}

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    websiteId: row.website_id,
    lineNumber: row.line_number,
    url: row.url,
    content: row.content,
    model: row.model,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    createdAt: row.created_at,
  };
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  const counts = {} as Record<K, number>;
  for (const k of keys) counts[k] = 0;
  return counts;
}

function isoNow(): string {
  return new Date().toISOString();
}

function toJobs(uploadId: UploadId, rows: PendingRow[]): WebsiteJob[] {
  const jobs: WebsiteJob[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    jobs[i] = { websiteId: r.id, uploadId, url: r.url, company: r.company, name: r.name, notes: r.notes };
  }
  return jobs;
}
