import { setImmediate } from 'node:timers/promises';
import type { FailureRecord, MessageRecord, ScrapeRecord, Store, UploadId } from './store/store.js';

interface Pending<T> {
  records: T[];
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

const empty = <T>(): Pending<T> => ({ records: [], waiters: [] });

/**
 * Write-behind batching of row updates. At ~1,000 rows/s a transaction per row would cost more CPU
 * than the rest of the row's work; one transaction per batch costs microseconds per row. A job's
 * promise resolves only after its batch is committed, so a job never completes before its write is
 * durable (a crash re-runs it, and idempotent writes absorb the repeat).
 */
export class WriteBatcher {
  private scrapes = empty<ScrapeRecord>();
  private messages = empty<MessageRecord>();
  private failures = empty<FailureRecord>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly opts: { maxRecords: number; maxDelayMs: number },
    /** Called after each commit with the uploads it touched. */
    private readonly onCommitted: (uploads: Set<UploadId>) => Promise<void>,
  ) {}

  saveScrape(record: ScrapeRecord): Promise<void> {
    return this.add(this.scrapes, record);
  }

  saveMessage(record: MessageRecord): Promise<void> {
    return this.add(this.messages, record);
  }

  saveFailure(record: FailureRecord): Promise<void> {
    return this.add(this.failures, record);
  }

  /** Commits everything buffered so far. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const scrapes = this.scrapes;
    const messages = this.messages;
    const failures = this.failures;
    this.scrapes = empty();
    this.messages = empty();
    this.failures = empty();
    // Batches commit one after another: the store is one connection (SQLite) or a pool we keep small.
    // Each waits for a turn of the event loop: a SQLite commit and the jobs it releases run
    // synchronously, and batches chained as promise callbacks would run back to back, holding
    // every socket and timer for as long as the queue of batches lasts.
    this.flushing = this.flushing
      .then(() => setImmediate())
      .then(() => this.commit(scrapes, messages, failures));
    return this.flushing;
  }

  private add<T>(pending: Pending<T>, record: T): Promise<void> {
    return new Promise((resolve, reject) => {
      pending.records.push(record);
      pending.waiters.push({ resolve, reject });
      const buffered =
        this.scrapes.records.length + this.messages.records.length + this.failures.records.length;
      if (buffered >= this.opts.maxRecords) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.opts.maxDelayMs);
    });
  }

  private async commit(
    scrapes: Pending<ScrapeRecord>,
    messages: Pending<MessageRecord>,
    failures: Pending<FailureRecord>,
  ): Promise<void> {
    const all = [scrapes, messages, failures] as Array<Pending<{ uploadId: UploadId }>>;
    try {
      if (scrapes.records.length) await this.store.saveScrapes(scrapes.records);
      if (messages.records.length) await this.store.saveMessages(messages.records);
      if (failures.records.length) await this.store.saveFailures(failures.records);
    } catch (err) {
      for (const p of all) for (const w of p.waiters) w.reject(err);
      return;
    }
    for (const p of all) for (const w of p.waiters) w.resolve();
    const touched = new Set<UploadId>();
    for (const r of messages.records) touched.add(r.uploadId);
    for (const r of failures.records) touched.add(r.uploadId);
    if (touched.size) await this.onCommitted(touched).catch(() => {});
  }
}
