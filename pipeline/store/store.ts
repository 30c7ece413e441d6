/**
 * What the pipeline needs from a database. SQL stays in the drivers (SQLite, PostgreSQL); every
 * method is async so both drivers share one contract suite.
 */

export type UploadId = number;
export type WebsiteId = number;
export type TaskId = number;

export interface User {
  id: number;
  email: string;
  passwordHash: string;
  createdAt: string;
}

/** A CSV row that passed validation, ready to insert. `lineNumber` is the 1-based line of the file. */
export interface NewWebsite {
  lineNumber: number;
  url: string;
  company: string | null;
  name: string | null;
  email: string | null;
  notes: string | null;
}

/** A CSV row that was refused, with the reason, reported back to the uploader. */
export interface RowRejection {
  lineNumber: number;
  reason: string;
}

/**
 * Lifecycle of a website row. `queued`: handed to the scraping queue; `scraped`: handed to the AI
 * queue; `done`: has exactly one message; `failed`: has a failure stage and reason.
 */
export type WebsiteStatus = 'pending' | 'queued' | 'scraped' | 'done' | 'failed';
export type FailureStage = 'scrape' | 'ai';

/** The fields a scraping job needs. */
export interface WebsiteJob {
  websiteId: WebsiteId;
  uploadId: UploadId;
  url: string;
  company: string | null;
  name: string | null;
  notes: string | null;
}

export interface ScrapeRecord {
  websiteId: WebsiteId;
  uploadId: UploadId;
  finalUrl: string;
  httpStatus: number;
  title: string;
  description: string;
  excerpt: string;
  scrapeMs: number;
}

export interface MessageRecord {
  websiteId: WebsiteId;
  uploadId: UploadId;
  content: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  aiMs: number;
}

export interface FailureRecord {
  websiteId: WebsiteId;
  uploadId: UploadId;
  stage: FailureStage;
  reason: string;
}

export type UploadStatus = 'ingesting' | 'processing' | 'completed';

/** Progress of one upload, per stage. Counters are kept by the store as rows change state. */
export interface UploadProgress {
  id: UploadId;
  userId: number;
  filename: string;
  status: UploadStatus;
  createdAt: string;
  completedAt: string | null;
  ingest: { rows: number; accepted: number; rejected: number; rejections: RowRejection[] };
  scrape: { done: number; failed: number };
  ai: { done: number; failed: number };
}

export interface Message {
  id: number;
  websiteId: WebsiteId;
  lineNumber: number;
  url: string;
  content: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  createdAt: string;
}

export interface MessagePage {
  items: Message[];
  /** Pass as `afterId` to get the next page; null on the last page. */
  nextAfterId: number | null;
}

/** Final accounting of an upload, counted row by row from the tables (not from counters). */
export interface UploadTally {
  rows: number;
  messages: number;
  failed: number;
  /**
   * Rows with neither a message nor a failure record. Once the upload has finished they were
   * dropped; while the pipeline still runs, those of `inProgress` may yet get their outcome.
   */
  lost: number;
  /** Of `lost`, the rows whose status is not final (pending, queued, scraped): still in the pipeline's hands. */
  inProgress: number;
  /** Websites with more than one message (must be 0: message writes are idempotent). */
  duplicated: number;
  failuresByReason: Record<string, number>;
}

export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface Task {
  id: TaskId;
  userId: number;
  type: string;
  payload: unknown;
  status: TaskStatus;
  result: unknown;
  error: string | null;
  attempts: number;
  /** Epoch milliseconds; queue wait = startedAtMs − enqueuedAtMs. */
  enqueuedAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
}

export interface DashboardStats {
  users: number;
  uploads: { total: number; completed: number };
  websites: Record<WebsiteStatus, number>;
  messages: number;
  tasks: Record<TaskStatus, number>;
}

export interface Store {
  /** Driver name for reports: 'sqlite' or 'postgres'. */
  readonly kind: string;

  createUser(email: string, passwordHash: string): Promise<User>;
  findUserByEmail(email: string): Promise<User | undefined>;
  countUsers(): Promise<number>;

  createUpload(userId: number, filename: string): Promise<UploadId>;
  /** Inserts one batch of validated rows in one transaction; status `pending`. */
  insertWebsites(uploadId: UploadId, rows: NewWebsite[]): Promise<void>;
  /** Records the result of parsing; the upload moves to `processing` (or `completed` when empty). */
  finishIngest(
    uploadId: UploadId,
    summary: { rows: number; accepted: number; rejected: number; rejections: RowRejection[] },
  ): Promise<void>;
  /**
   * Removes an upload that is still `ingesting` and its rows, when the upload is refused part-way
   * (over the size limit): none of its rows may be processed. Returns whether it removed one.
   */
  discardUpload(uploadId: UploadId): Promise<boolean>;
  getUpload(uploadId: UploadId): Promise<UploadProgress | undefined>;
  /** Uploads not yet completed, for recovery after a restart. */
  listUnfinishedUploads(): Promise<UploadId[]>;
  /**
   * Takes up to `limit` rows of the upload in `pending` state, ordered by id, and marks them
   * `queued` in the same transaction, so two dispatchers never hand out the same row.
   */
  claimPending(uploadId: UploadId, limit: number): Promise<WebsiteJob[]>;
  /**
   * Rows of the upload in `queued` state with id > afterId, ordered by id: a dispatcher that
   * restarts hands them to the queue again (named jobs make that safe), in case it stopped between
   * claiming rows and enqueueing them.
   */
  listQueued(uploadId: UploadId, afterId: number, limit: number): Promise<WebsiteJob[]>;
  /**
   * After a restart of an in-process queue, rows that were `queued` or `scraped` lost their jobs:
   * put them back to `pending` so they are dispatched again. Returns how many.
   */
  requeueInFlight(uploadId: UploadId): Promise<number>;
  /** Stores scrape results; rows move `queued` → `scraped`. */
  saveScrapes(records: ScrapeRecord[]): Promise<void>;
  /**
   * Writes messages idempotently: a website that already has a message keeps it, and counters move
   * only for rows that actually changed state.
   */
  saveMessages(records: MessageRecord[]): Promise<void>;
  /** Marks rows failed with stage and reason; rows already `done` or `failed` are left alone. */
  saveFailures(records: FailureRecord[]): Promise<void>;
  /** Marks the upload completed when every accepted row is `done` or `failed`; returns whether it is. */
  completeUploadIfDone(uploadId: UploadId): Promise<boolean>;
  listMessages(uploadId: UploadId, opts: { limit: number; afterId?: number }): Promise<MessagePage>;
  tallyUpload(uploadId: UploadId): Promise<UploadTally>;

  createTask(userId: number, type: string, payload: unknown): Promise<Task>;
  getTask(id: TaskId): Promise<Task | undefined>;
  markTaskStarted(id: TaskId, attempt: number): Promise<void>;
  completeTask(id: TaskId, result: unknown): Promise<void>;
  failTask(id: TaskId, error: string): Promise<void>;

  stats(): Promise<DashboardStats>;
  close(): Promise<void>;

  /** Connection-pool figures, for drivers that pool connections (PostgreSQL); read by /metrics. */
  poolStats?(): { total: number; idle: number; waiting: number };
  /** Milliseconds spent waiting for a pooled connection since the store opened. */
  readonly acquireWaitMs?: number;
  /** Pooled connections handed out since the store opened. */
  readonly acquireCount?: number;
}
