import { describe, expect, it, onTestFinished } from 'vitest';
import { openStore } from './store/open-store.js';
import type { ScrapeRecord, Store, WebsiteJob } from './store/store.js';
import { WriteBatcher } from './write-batcher.js';

/** An embedded store with one upload of `rows` rows claimed for scraping. */
async function claimedRows(rows: number): Promise<{ store: Store; jobs: WebsiteJob[] }> {
  const store = await openStore(':memory:');
  onTestFinished(() => store.close());
  const user = await store.createUser('ada@example.com', 'h');
  const upload = await store.createUpload(user.id, 'sites.csv');
  await store.insertWebsites(
    upload,
    Array.from({ length: rows }, (_, i) => ({
      lineNumber: i + 2,
      url: `https://site-${i}.example`,
      company: null,
      name: null,
      email: null,
      notes: null,
    })),
  );
  return { store, jobs: await store.claimPending(upload, rows) };
}

const scrapeOf = (job: WebsiteJob): ScrapeRecord => ({
  websiteId: job.websiteId,
  uploadId: job.uploadId,
  finalUrl: job.url,
  httpStatus: 200,
  title: 't',
  description: 'd',
  excerpt: 'e',
  scrapeMs: 5,
});

describe('WriteBatcher', () => {
  it('commits a full batch at once and the rest after the delay, each save resolving after its commit', async () => {
    const { store, jobs } = await claimedRows(7);
    const committed: number[] = [];
    const batcher = new WriteBatcher(store, { maxRecords: 5, maxDelayMs: 20 }, async () => {});
    const saveScrapes = store.saveScrapes.bind(store);
    store.saveScrapes = async (records) => {
      committed.push(records.length);
      await saveScrapes(records);
    };
    const seen = await Promise.all(
      jobs.map((job) => batcher.saveScrape(scrapeOf(job)).then(() => committed.length)),
    );
    expect(committed).toEqual([5, 2]);
    expect(seen).toEqual([1, 1, 1, 1, 1, 2, 2]);
  });

  it('lets the event loop turn between queued batches, so sockets and timers are not held for all of them', async () => {
    // A SQLite commit runs synchronously, and so do the jobs its waiters release. Batches chained
    // as promise callbacks alone would commit back to back before any I/O or timer could run.
    const { store, jobs } = await claimedRows(30);
    const events: string[] = [];
    const saveScrapes = store.saveScrapes.bind(store);
    store.saveScrapes = async (records) => {
      events.push(`commit ${records.length}`);
      setImmediate(() => events.push('turn'));
      await saveScrapes(records);
    };
    const batcher = new WriteBatcher(store, { maxRecords: 10, maxDelayMs: 1_000 }, async () => {});
    await Promise.all(jobs.map((job) => batcher.saveScrape(scrapeOf(job))));
    expect(events.slice(0, 5)).toEqual(['commit 10', 'turn', 'commit 10', 'turn', 'commit 10']);
  });

  it('rejects every save of a batch whose commit failed, and commits the next batch', async () => {
    const { store, jobs } = await claimedRows(4);
    let calls = 0;
    const saveScrapes = store.saveScrapes.bind(store);
    store.saveScrapes = async (records) => {
      if (++calls === 1) throw new Error('disk full');
      await saveScrapes(records);
    };
    const batcher = new WriteBatcher(store, { maxRecords: 2, maxDelayMs: 1_000 }, async () => {});
    const results = await Promise.allSettled(jobs.map((job) => batcher.saveScrape(scrapeOf(job))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  });
});
