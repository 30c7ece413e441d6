import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, UserExistsError } from '../../errors.js';
import type {
  FailureRecord,
  MessageRecord,
  NewWebsite,
  ScrapeRecord,
  Store,
  UploadId,
  WebsiteJob,
} from './store.js';

/**
 * The behaviour every Store driver must show, as a vitest suite. Call it inside a test file with a
 * function that opens a fresh, empty store; each test gets its own and closes it.
 */
export function storeContract(open: () => Promise<Store>): void {
  describe('Store contract', () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
    });

    /** A user, an upload of `count` accepted rows (lines 2…count+1), ingest finished. */
    async function seedUpload(count: number, email = 'owner@example.com'): Promise<UploadId> {
      const user = (await store.findUserByEmail(email)) ?? (await store.createUser(email, 'hash'));
      const uploadId = await store.createUpload(user.id, 'sites.csv');
      await store.insertWebsites(uploadId, websites(count));
      await store.finishIngest(uploadId, { rows: count, accepted: count, rejected: 0, rejections: [] });
      return uploadId;
    }

    async function scrape(jobs: WebsiteJob[]): Promise<void> {
      await store.saveScrapes(jobs.map(scrapeRecord));
    }

    describe('users', () => {
      it('finds a created user by e-mail with its password hash', async () => {
        const created = await store.createUser('ada@example.com', 'scrypt$abc');
        const found = await store.findUserByEmail('ada@example.com');
        expect(found).toEqual(created);
        expect(found?.passwordHash).toBe('scrypt$abc');
        expect(Date.parse(created.createdAt)).not.toBeNaN();
      });

      it('returns undefined for an e-mail nobody registered', async () => {
        expect(await store.findUserByEmail('nobody@example.com')).toBeUndefined();
      });

      it('refuses a second user with the same e-mail with UserExistsError', async () => {
        await store.createUser('ada@example.com', 'h1');
        const second = store.createUser('ada@example.com', 'h2');
        await expect(second).rejects.toBeInstanceOf(UserExistsError);
        await expect(second).rejects.toMatchObject({ code: ErrorCode.UserExists, email: 'ada@example.com' });
        expect(await store.countUsers()).toBe(1);
      });

      it('counts users', async () => {
        await store.createUser('a@example.com', 'h');
        await store.createUser('b@example.com', 'h');
        expect(await store.countUsers()).toBe(2);
      });
    });

    describe('uploads and ingest', () => {
      it('starts an upload in ingesting with empty counters', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'list.csv');
        const upload = await store.getUpload(uploadId);
        expect(upload).toMatchObject({
          id: uploadId,
          userId: user.id,
          filename: 'list.csv',
          status: 'ingesting',
          completedAt: null,
          ingest: { rows: 0, accepted: 0, rejected: 0, rejections: [] },
          scrape: { done: 0, failed: 0 },
          ai: { done: 0, failed: 0 },
        });
      });

      it('returns undefined for an upload that does not exist', async () => {
        expect(await store.getUpload(987_654)).toBeUndefined();
      });

      it('records the ingest summary and moves the upload to processing', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'list.csv');
        await store.insertWebsites(uploadId, websites(3));
        const rejections = [{ lineNumber: 5, reason: 'url: not a http(s) URL' }];
        await store.finishIngest(uploadId, { rows: 4, accepted: 3, rejected: 1, rejections });
        const upload = await store.getUpload(uploadId);
        expect(upload?.status).toBe('processing');
        expect(upload?.ingest).toEqual({ rows: 4, accepted: 3, rejected: 1, rejections });
      });

      it('keeps only the first 1000 rejections', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'bad.csv');
        const rejections = Array.from({ length: 1_500 }, (_, i) => ({
          lineNumber: i + 2,
          reason: 'bad url',
        }));
        await store.finishIngest(uploadId, { rows: 1_500, accepted: 0, rejected: 1_500, rejections });
        const upload = await store.getUpload(uploadId);
        expect(upload?.ingest.rejected).toBe(1_500);
        expect(upload?.ingest.rejections).toHaveLength(1_000);
        expect(upload?.ingest.rejections[999]).toEqual({ lineNumber: 1_001, reason: 'bad url' });
      });

      it('completes an upload that accepted no rows when ingest finishes', async () => {
        const uploadId = await seedUpload(0);
        const upload = await store.getUpload(uploadId);
        expect(upload?.status).toBe('completed');
        expect(upload?.completedAt).not.toBeNull();
      });

      it('lists queued rows by id after a cursor, and not pending or scraped ones', async () => {
        const uploadId = await seedUpload(10);
        const claimed = await store.claimPending(uploadId, 6);
        await store.saveScrapes([scrapeRecord(claimed[0]!)]);
        const first = await store.listQueued(uploadId, 0, 3);
        expect(first.map((j) => j.websiteId)).toEqual(claimed.slice(1, 4).map((j) => j.websiteId));
        const rest = await store.listQueued(uploadId, first[2]!.websiteId, 100);
        expect(rest.map((j) => j.websiteId)).toEqual(claimed.slice(4).map((j) => j.websiteId));
        expect(rest[0]).toMatchObject({ uploadId, url: claimed[4]!.url });
      });

      it('discards an upload refused part-way, rows and all, but never one past ingest', async () => {
        const user = await store.createUser('discard@example.com', 'hash');
        const refused = await store.createUpload(user.id, 'big.csv');
        await store.insertWebsites(refused, websites(20));
        expect(await store.discardUpload(refused)).toBe(true);
        expect(await store.getUpload(refused)).toBeUndefined();
        expect(await store.claimPending(refused, 100)).toEqual([]);
        expect(await store.listUnfinishedUploads()).not.toContain(refused);
        const kept = await seedUpload(3, 'discard@example.com');
        expect(await store.discardUpload(kept)).toBe(false);
        expect((await store.getUpload(kept))?.ingest.accepted).toBe(3);
      });

      it('skips rows whose line is already stored when a batch is inserted again', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'list.csv');
        await store.insertWebsites(uploadId, websites(250));
        await store.insertWebsites(uploadId, websites(300));
        expect((await store.tallyUpload(uploadId)).rows).toBe(300);
      });

      it('stores every field of an inserted row and hands it out in a job', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'list.csv');
        const row: NewWebsite = {
          lineNumber: 2,
          url: 'https://acme.example/',
          company: 'Acme',
          name: 'Wile',
          email: 'wile@acme.example',
          notes: 'anvils',
        };
        await store.insertWebsites(uploadId, [row, { ...row, lineNumber: 3, company: null, notes: null }]);
        const jobs = await store.claimPending(uploadId, 10);
        expect(jobs).toEqual([
          {
            websiteId: expect.any(Number),
            uploadId,
            url: 'https://acme.example/',
            company: 'Acme',
            name: 'Wile',
            notes: 'anvils',
          },
          {
            websiteId: expect.any(Number),
            uploadId,
            url: 'https://acme.example/',
            company: null,
            name: 'Wile',
            notes: null,
          },
        ]);
      });

      it('keeps each row its own fields in a batch of hundreds', async () => {
        const uploadId = await seedUpload(1_234);
        const jobs = await store.claimPending(uploadId, 2_000);
        expect(jobs).toHaveLength(1_234);
        jobs.forEach((job, i) => {
          expect(job).toMatchObject({
            uploadId,
            url: `https://site-${i + 2}.example/`,
            company: `Company ${i + 2}`,
          });
        });
      });

      it('lists uploads that are not completed', async () => {
        const open1 = await seedUpload(2);
        const done = await seedUpload(0);
        const user = await store.findUserByEmail('owner@example.com');
        const ingesting = await store.createUpload(user!.id, 'still-reading.csv');
        const unfinished = await store.listUnfinishedUploads();
        expect(unfinished).toEqual([open1, ingesting]);
        expect(unfinished).not.toContain(done);
      });
    });

    describe('row lifecycle and counters', () => {
      it('counts scrapes, messages and failures of each stage', async () => {
        const uploadId = await seedUpload(4);
        const [a, b, c, d] = await store.claimPending(uploadId, 4);
        await scrape([a!, b!, d!]);
        await store.saveMessages([messageRecord(a!)]);
        await store.saveFailures([
          { websiteId: c!.websiteId, uploadId, stage: 'scrape', reason: 'timeout' },
          { websiteId: d!.websiteId, uploadId, stage: 'ai', reason: 'HTTP 500' },
        ]);
        const upload = await store.getUpload(uploadId);
        // a: done; b: scraped; c: scrape failure; d: scraped then AI failure.
        expect(upload?.scrape).toEqual({ done: 3, failed: 1 });
        expect(upload?.ai).toEqual({ done: 1, failed: 1 });
      });

      it('counts a scrape saved twice once', async () => {
        const uploadId = await seedUpload(2);
        const jobs = await store.claimPending(uploadId, 2);
        await scrape(jobs);
        await scrape(jobs);
        expect((await store.getUpload(uploadId))?.scrape).toEqual({ done: 2, failed: 0 });
      });

      it('keeps one message and counts once when a website gets two messages', async () => {
        const uploadId = await seedUpload(2);
        const [a, b] = await store.claimPending(uploadId, 2);
        await scrape([a!, b!]);
        await store.saveMessages([messageRecord(a!, 'first'), messageRecord(a!, 'second in the same batch')]);
        await store.saveMessages([messageRecord(a!, 'replayed job')]);
        const upload = await store.getUpload(uploadId);
        expect(upload?.ai).toEqual({ done: 1, failed: 0 });
        const page = await store.listMessages(uploadId, { limit: 10 });
        expect(page.items.map((m) => m.content)).toEqual(['first']);
        const tally = await store.tallyUpload(uploadId);
        expect(tally.messages).toBe(1);
        expect(tally.duplicated).toBe(0);
      });

      it('ignores a failure for a row that already has its message', async () => {
        const uploadId = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await scrape([a!]);
        await store.saveMessages([messageRecord(a!)]);
        await store.saveFailures([
          { websiteId: a!.websiteId, uploadId, stage: 'ai', reason: 'late retry failed' },
        ]);
        const upload = await store.getUpload(uploadId);
        expect(upload?.scrape).toEqual({ done: 1, failed: 0 });
        expect(upload?.ai).toEqual({ done: 1, failed: 0 });
        const tally = await store.tallyUpload(uploadId);
        expect(tally).toMatchObject({ messages: 1, failed: 0, lost: 0 });
      });

      it('counts a row failed twice once, with its first reason', async () => {
        const uploadId = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await store.saveFailures([{ websiteId: a!.websiteId, uploadId, stage: 'scrape', reason: 'dns' }]);
        await store.saveFailures([{ websiteId: a!.websiteId, uploadId, stage: 'scrape', reason: 'timeout' }]);
        expect((await store.getUpload(uploadId))?.scrape).toEqual({ done: 0, failed: 1 });
        expect((await store.tallyUpload(uploadId)).failuresByReason).toEqual({ 'scrape: dns': 1 });
      });

      it('drops a message for a row that already failed', async () => {
        const uploadId = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await scrape([a!]);
        await store.saveFailures([{ websiteId: a!.websiteId, uploadId, stage: 'ai', reason: 'HTTP 429' }]);
        await store.saveMessages([messageRecord(a!)]);
        expect((await store.getUpload(uploadId))?.ai).toEqual({ done: 0, failed: 1 });
        expect((await store.tallyUpload(uploadId)).messages).toBe(0);
      });

      it('counts the scrape of a row whose message arrives before its scrape record', async () => {
        const uploadId = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await store.saveMessages([messageRecord(a!)]);
        await scrape([a!]);
        const upload = await store.getUpload(uploadId);
        expect(upload?.scrape).toEqual({ done: 1, failed: 0 });
        expect(upload?.ai).toEqual({ done: 1, failed: 0 });
      });

      it('counts an AI failure without a scrape record as a scrape done and an AI failure', async () => {
        const uploadId = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await store.saveFailures([{ websiteId: a!.websiteId, uploadId, stage: 'ai', reason: 'HTTP 500' }]);
        const upload = await store.getUpload(uploadId);
        expect(upload?.scrape).toEqual({ done: 1, failed: 0 });
        expect(upload?.ai).toEqual({ done: 0, failed: 1 });
      });

      it('moves a scraped row that then fails at the scrape stage from scrape done to scrape failed', async () => {
        const uploadId = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await scrape([a!]);
        await store.saveFailures([
          { websiteId: a!.websiteId, uploadId, stage: 'scrape', reason: 'retry exhausted' },
        ]);
        const upload = await store.getUpload(uploadId);
        expect(upload?.scrape).toEqual({ done: 0, failed: 1 });
        expect(upload?.ai).toEqual({ done: 0, failed: 0 });
      });

      it('ignores records whose upload id does not match the row', async () => {
        const uploadId = await seedUpload(1);
        const other = await seedUpload(1);
        const [a] = await store.claimPending(uploadId, 1);
        await store.saveScrapes([{ ...scrapeRecord(a!), uploadId: other }]);
        await store.saveMessages([{ ...messageRecord(a!), uploadId: other }]);
        expect((await store.getUpload(other))?.scrape).toEqual({ done: 0, failed: 0 });
        expect((await store.getUpload(uploadId))?.scrape).toEqual({ done: 0, failed: 0 });
      });
    });

    describe('claimPending', () => {
      it('hands out pending rows in id order and marks them queued', async () => {
        const uploadId = await seedUpload(5);
        const first = await store.claimPending(uploadId, 3);
        const ids = first.map((j) => j.websiteId);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(first).toHaveLength(3);
        expect(await store.claimPending(uploadId, 10)).toHaveLength(2);
        expect(await store.claimPending(uploadId, 10)).toEqual([]);
        expect((await store.stats()).websites).toMatchObject({ pending: 0, queued: 5 });
      });

      it('never hands out the same row twice to interleaved claims', async () => {
        const uploadId = await seedUpload(1_000);
        const claims = await Promise.all(Array.from({ length: 12 }, () => store.claimPending(uploadId, 97)));
        let more = await store.claimPending(uploadId, 1_000);
        const ids = [...claims.flat(), ...more].map((j) => j.websiteId);
        expect(ids).toHaveLength(1_000);
        expect(new Set(ids).size).toBe(1_000);
        more = await store.claimPending(uploadId, 1_000);
        expect(more).toEqual([]);
      });

      it('claims only rows of the upload asked for', async () => {
        const mine = await seedUpload(3);
        const theirs = await seedUpload(3);
        const jobs = await store.claimPending(mine, 10);
        expect(jobs).toHaveLength(3);
        expect(jobs.every((j) => j.uploadId === mine)).toBe(true);
        expect(await store.claimPending(theirs, 10)).toHaveLength(3);
      });
    });

    describe('requeueInFlight', () => {
      it('puts queued and scraped rows back to pending and takes their scrapes off the counters', async () => {
        const uploadId = await seedUpload(6);
        const [a, b, c, d, e] = await store.claimPending(uploadId, 5);
        await scrape([a!, b!, c!]);
        await store.saveMessages([messageRecord(a!)]);
        await store.saveFailures([{ websiteId: b!.websiteId, uploadId, stage: 'ai', reason: 'HTTP 500' }]);
        // a: done, b: failed (ai), c: scraped, d and e: queued, the sixth: pending.
        expect(await store.requeueInFlight(uploadId)).toBe(3);
        const upload = await store.getUpload(uploadId);
        expect(upload?.scrape).toEqual({ done: 2, failed: 0 });
        expect(upload?.ai).toEqual({ done: 1, failed: 1 });
        const again = (await store.claimPending(uploadId, 10)).map((j) => j.websiteId);
        expect(again).toHaveLength(4);
        expect(again).toEqual(expect.arrayContaining([c!.websiteId, d!.websiteId, e!.websiteId]));
        await scrape([c!]);
        expect((await store.getUpload(uploadId))?.scrape).toEqual({ done: 3, failed: 0 });
      });

      it('returns 0 when nothing is in flight', async () => {
        const uploadId = await seedUpload(2);
        expect(await store.requeueInFlight(uploadId)).toBe(0);
      });
    });

    describe('completeUploadIfDone', () => {
      it('stays processing while a row is neither done nor failed', async () => {
        const uploadId = await seedUpload(2);
        const [a, b] = await store.claimPending(uploadId, 2);
        await scrape([a!, b!]);
        await store.saveMessages([messageRecord(a!)]);
        expect(await store.completeUploadIfDone(uploadId)).toBe(false);
        const upload = await store.getUpload(uploadId);
        expect(upload?.status).toBe('processing');
        expect(upload?.completedAt).toBeNull();
      });

      it('completes once every accepted row is done or failed, and keeps the first completion time', async () => {
        const uploadId = await seedUpload(3);
        const [a, b, c] = await store.claimPending(uploadId, 3);
        await scrape([a!, b!]);
        await store.saveMessages([messageRecord(a!)]);
        await store.saveFailures([
          { websiteId: b!.websiteId, uploadId, stage: 'ai', reason: 'HTTP 500' },
          { websiteId: c!.websiteId, uploadId, stage: 'scrape', reason: 'timeout' },
        ]);
        expect(await store.completeUploadIfDone(uploadId)).toBe(true);
        const completedAt = (await store.getUpload(uploadId))?.completedAt;
        expect(completedAt).not.toBeNull();
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(await store.completeUploadIfDone(uploadId)).toBe(true);
        const upload = await store.getUpload(uploadId);
        expect(upload?.status).toBe('completed');
        expect(upload?.completedAt).toBe(completedAt);
        expect(await store.listUnfinishedUploads()).not.toContain(uploadId);
      });

      it('does not complete an upload that is still ingesting', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'list.csv');
        await store.insertWebsites(uploadId, websites(1));
        const [a] = await store.claimPending(uploadId, 1);
        await store.saveFailures([{ websiteId: a!.websiteId, uploadId, stage: 'scrape', reason: 'dns' }]);
        expect(await store.completeUploadIfDone(uploadId)).toBe(false);
        expect((await store.getUpload(uploadId))?.status).toBe('ingesting');
      });

      it('completes at finishIngest when every row finished during ingest', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const uploadId = await store.createUpload(user.id, 'list.csv');
        await store.insertWebsites(uploadId, websites(1));
        const [a] = await store.claimPending(uploadId, 1);
        await store.saveFailures([{ websiteId: a!.websiteId, uploadId, stage: 'scrape', reason: 'dns' }]);
        await store.finishIngest(uploadId, { rows: 1, accepted: 1, rejected: 0, rejections: [] });
        expect((await store.getUpload(uploadId))?.status).toBe('completed');
      });

      it('returns false for an upload that does not exist', async () => {
        expect(await store.completeUploadIfDone(987_654)).toBe(false);
      });
    });

    describe('tallyUpload', () => {
      it('counts messages, failures, and rows without an outcome as lost and, while not final, in progress', async () => {
        const uploadId = await seedUpload(10);
        const jobs = await store.claimPending(uploadId, 7);
        await scrape(jobs.slice(0, 5));
        await store.saveMessages(jobs.slice(0, 4).map((j) => messageRecord(j)));
        await store.saveFailures([
          { websiteId: jobs[4]!.websiteId, uploadId, stage: 'ai', reason: 'HTTP 500' },
          { websiteId: jobs[5]!.websiteId, uploadId, stage: 'scrape', reason: 'timeout' },
        ]);
        // Four messages, two failures; one row queued and three pending never finished.
        expect(await store.tallyUpload(uploadId)).toEqual({
          rows: 10,
          messages: 4,
          failed: 2,
          lost: 4,
          inProgress: 4,
          duplicated: 0,
          failuresByReason: { 'ai: HTTP 500': 1, 'scrape: timeout': 1 },
        });
      });

      it('counts only the rows of its own upload', async () => {
        const mine = await seedUpload(2);
        const theirs = await seedUpload(3);
        const [a] = await store.claimPending(theirs, 1);
        await scrape([a!]);
        await store.saveMessages([messageRecord(a!)]);
        expect(await store.tallyUpload(mine)).toMatchObject({ rows: 2, messages: 0, lost: 2 });
        expect(await store.tallyUpload(theirs)).toMatchObject({ rows: 3, messages: 1, lost: 2 });
      });

      it('names the 20 most frequent failure reasons by stage', async () => {
        const uploadId = await seedUpload(60);
        const jobs = await store.claimPending(uploadId, 60);
        // Reasons 0…19 fail two rows each, reasons 20…24 one row each: the top 20 are 0…19.
        const failures: FailureRecord[] = jobs.slice(0, 45).map((job, i) => ({
          websiteId: job.websiteId,
          uploadId,
          stage: 'scrape',
          reason: `reason ${i < 40 ? i % 20 : i - 20}`,
        }));
        await store.saveFailures(failures);
        const byReason = (await store.tallyUpload(uploadId)).failuresByReason;
        expect(byReason).toEqual(
          Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`scrape: reason ${k}`, 2])),
        );
      });
    });

    describe('listMessages', () => {
      it('pages through every message of the upload exactly once, with line and url', async () => {
        const uploadId = await seedUpload(53);
        const other = await seedUpload(5);
        const jobs = await store.claimPending(uploadId, 53);
        await scrape(jobs);
        // Messages arrive out of line order, as workers finish them.
        await store.saveMessages([...jobs].reverse().map((j) => messageRecord(j)));
        const otherJobs = await store.claimPending(other, 5);
        await scrape(otherJobs);
        await store.saveMessages(otherJobs.map((j) => messageRecord(j)));

        const seen: number[] = [];
        let afterId: number | undefined;
        let pages = 0;
        for (;;) {
          const page = await store.listMessages(uploadId, { limit: 10, afterId });
          pages++;
          for (const m of page.items) {
            seen.push(m.websiteId);
            expect(m.url).toBe(`https://site-${m.lineNumber}.example/`);
            expect(m.content).toBe(`hello ${m.url}`);
          }
          if (page.nextAfterId === null) break;
          afterId = page.nextAfterId;
        }
        expect(pages).toBe(6);
        expect(seen).toHaveLength(53);
        expect(new Set(seen)).toEqual(new Set(jobs.map((j) => j.websiteId)));
      });

      it('returns an empty last page for an upload without messages', async () => {
        const uploadId = await seedUpload(3);
        expect(await store.listMessages(uploadId, { limit: 10 })).toEqual({ items: [], nextAfterId: null });
      });

      it('ends on a full page when the messages fill it exactly', async () => {
        const uploadId = await seedUpload(4);
        const jobs = await store.claimPending(uploadId, 4);
        await scrape(jobs);
        await store.saveMessages(jobs.map((j) => messageRecord(j)));
        const first = await store.listMessages(uploadId, { limit: 2 });
        const second = await store.listMessages(uploadId, { limit: 2, afterId: first.nextAfterId! });
        expect(second.items).toHaveLength(2);
        expect(second.nextAfterId).toBeNull();
        expect(second.items[0]).toMatchObject({ model: 'sim-1', promptTokens: 120, completionTokens: 80 });
      });
    });

    describe('tasks', () => {
      it('creates a queued task and reads back its payload', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const before = Date.now();
        const task = await store.createTask(user.id, 'sleep', { workMs: 50, tags: ['a'] });
        expect(task).toMatchObject({ userId: user.id, type: 'sleep', status: 'queued', attempts: 0 });
        expect(task.enqueuedAtMs).toBeGreaterThanOrEqual(before);
        expect(await store.getTask(task.id)).toEqual(task);
      });

      it('records the first start time, the attempt and the completion time', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const task = await store.createTask(user.id, 'sleep', { workMs: 1 });
        await store.markTaskStarted(task.id, 1);
        const started = await store.getTask(task.id);
        expect(started?.status).toBe('running');
        expect(started?.attempts).toBe(1);
        expect(started?.startedAtMs).toBeGreaterThanOrEqual(task.enqueuedAtMs);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.markTaskStarted(task.id, 2);
        await store.completeTask(task.id, { ok: true });
        const done = await store.getTask(task.id);
        expect(done).toMatchObject({ status: 'completed', attempts: 2, result: { ok: true }, error: null });
        expect(done?.startedAtMs).toBe(started?.startedAtMs);
        expect(done?.completedAtMs).toBeGreaterThanOrEqual(done!.startedAtMs!);
      });

      it('records a failure with its error and completion time', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const task = await store.createTask(user.id, 'sleep', null);
        await store.markTaskStarted(task.id, 1);
        await store.failTask(task.id, 'worker crashed');
        const failed = await store.getTask(task.id);
        expect(failed).toMatchObject({
          status: 'failed',
          error: 'worker crashed',
          result: null,
          payload: null,
        });
        expect(failed?.completedAtMs).toBeGreaterThanOrEqual(failed!.startedAtMs!);
      });

      it('keeps a completed task completed when its job is delivered again', async () => {
        const user = await store.createUser('u@example.com', 'h');
        const task = await store.createTask(user.id, 'sleep', {});
        await store.markTaskStarted(task.id, 1);
        await store.completeTask(task.id, 42);
        const completed = await store.getTask(task.id);
        await store.markTaskStarted(task.id, 2);
        await store.failTask(task.id, 'duplicate delivery');
        expect(await store.getTask(task.id)).toEqual(completed);
      });

      it('returns undefined for a task that does not exist', async () => {
        expect(await store.getTask(987_654)).toBeUndefined();
      });
    });

    describe('stats', () => {
      it('counts users, uploads, websites by status, messages and tasks by status', async () => {
        const uploadId = await seedUpload(5);
        await seedUpload(0);
        const [a, b, c] = await store.claimPending(uploadId, 3);
        await scrape([a!, b!]);
        await store.saveMessages([messageRecord(a!)]);
        await store.saveFailures([{ websiteId: c!.websiteId, uploadId, stage: 'scrape', reason: 'dns' }]);
        const user = await store.findUserByEmail('owner@example.com');
        const t1 = await store.createTask(user!.id, 'sleep', {});
        await store.createTask(user!.id, 'sleep', {});
        await store.markTaskStarted(t1.id, 1);
        expect(await store.stats()).toEqual({
          users: 1,
          uploads: { total: 2, completed: 1 },
          websites: { pending: 2, queued: 0, scraped: 1, done: 1, failed: 1 },
          messages: 1,
          tasks: { queued: 1, running: 1, completed: 0, failed: 0 },
        });
      });

      it('reports zeros on an empty store', async () => {
        expect(await store.stats()).toEqual({
          users: 0,
          uploads: { total: 0, completed: 0 },
          websites: { pending: 0, queued: 0, scraped: 0, done: 0, failed: 0 },
          messages: 0,
          tasks: { queued: 0, running: 0, completed: 0, failed: 0 },
        });
      });
    });

    it('can be closed twice', async () => {
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
      store = await open();
    });
  });
}

/** `count` rows on lines 2…count+1 (line 1 is the header), each with its own site. */
function websites(count: number): NewWebsite[] {
  return Array.from({ length: count }, (_, i) => ({
    lineNumber: i + 2,
    url: `https://site-${i + 2}.example/`,
    company: `Company ${i + 2}`,
    name: null,
    email: null,
    notes: null,
  }));
}

function scrapeRecord(job: WebsiteJob): ScrapeRecord {
  return {
    websiteId: job.websiteId,
    uploadId: job.uploadId,
    finalUrl: job.url,
    httpStatus: 200,
    title: 'Title',
    description: 'Description',
    excerpt: 'Excerpt',
    scrapeMs: 300,
  };
}

function messageRecord(job: WebsiteJob, content = `hello ${job.url}`): MessageRecord {
  return {
    websiteId: job.websiteId,
    uploadId: job.uploadId,
    content,
    model: 'sim-1',
    promptTokens: 120,
    completionTokens: 80,
    aiMs: 1_700,
  };
}
