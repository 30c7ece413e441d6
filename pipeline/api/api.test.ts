import { Readable } from 'node:stream';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPipeline, startPipeline } from '../pipeline.js';

/** A cheap scrypt cost: these tests check behaviour, not hash strength. */
const FAST_AUTH = { scryptCost: 1024, loginRateLimit: { max: 5, windowSeconds: 60 } };

let pipeline: RunningPipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    store: ':memory:',
    http: { port: 0 },
    logLevel: 'silent',
    workers: false,
    auth: FAST_AUTH,
  });
});
afterAll(() => pipeline.close());

const inject = (opts: InjectOptions) => pipeline.app.inject(opts);

async function tokenFor(email: string): Promise<string> {
  await inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email, password: 'correct horse' },
  });
  const res = await inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password: 'correct horse' },
  });
  return res.json().accessToken as string;
}

describe('API', () => {
  it('answers health without a token', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', store: 'sqlite', queue: 'in-process' });
  });

  it('registers a user and logs in with a JWT', async () => {
    const reg = await inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: 'Ada@Example.com', password: 'analytical' },
    });
    expect(reg.statusCode).toBe(201);
    expect(reg.json().email).toBe('ada@example.com');
    const login = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'ada@example.com', password: 'analytical' },
    });
    expect(login.statusCode).toBe(200);
    const token = login.json().accessToken as string;
    expect(token.split('.')).toHaveLength(3);
    const me = await inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.json()).toMatchObject({ email: 'ada@example.com' });
  });

  it('refuses a second account for the same e-mail with 409', async () => {
    const payload = { email: 'twice@example.com', password: 'password1' };
    await inject({ method: 'POST', url: '/api/v1/auth/register', payload });
    const res = await inject({ method: 'POST', url: '/api/v1/auth/register', payload });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('HRM_USER_EXISTS');
  });

  it('answers 400 naming the field for an invalid body', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: 'not-an-email', password: 'password1' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'HRM_REQUEST_INVALID' });
    expect(res.json().error.message).toMatch(/body\.email/);
    const missing = await inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: 'a@b.co' },
    });
    expect(missing.json().error.message).toMatch(/body\.password/);
  });

  it('answers 401 to a wrong password and to calls without a token', async () => {
    await tokenFor('grace@example.com');
    const wrong = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'grace@example.com', password: 'not her password' },
    });
    expect(wrong.statusCode).toBe(401);
    for (const url of ['/api/v1/dashboard/stats', '/api/v1/uploads/1', '/api/v1/tasks/1']) {
      const res = await inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error.code).toBe('HRM_UNAUTHORIZED');
    }
    const forged = await inject({
      method: 'GET',
      url: '/api/v1/dashboard/stats',
      headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.forged' },
    });
    expect(forged.statusCode).toBe(401);
  });

  it('answers 429 once the login limit is reached', async () => {
    await tokenFor('limited@example.com');
    const statuses: number[] = [];
    for (let i = 0; i < FAST_AUTH.loginRateLimit.max + 2; i++) {
      const res = await inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'limited@example.com', password: 'wrong password' },
      });
      statuses.push(res.statusCode);
    }
    // One login was spent by tokenFor; the rest of the window's allowance answers 401.
    expect(statuses.slice(0, FAST_AUTH.loginRateLimit.max - 1).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    const last = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'limited@example.com', password: 'correct horse' },
    });
    expect(last.statusCode).toBe(429);
    expect(last.json().error.code).toBe('HRM_RATE_LIMITED');
  });

  it('answers 404 for unknown ids and routes', async () => {
    const token = await tokenFor('finder@example.com');
    const headers = { authorization: `Bearer ${token}` };
    expect((await inject({ method: 'GET', url: '/api/v1/uploads/999999', headers })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/api/v1/tasks/999999', headers })).statusCode).toBe(404);
    expect(
      (await inject({ method: 'GET', url: '/api/v1/uploads/999999/messages', headers })).statusCode,
    ).toBe(404);
    const route = await inject({ method: 'GET', url: '/api/v1/nowhere', headers });
    expect(route.statusCode).toBe(404);
    expect(route.json().error.code).toBe('HRM_NOT_FOUND');
  });

  it('answers 400 to an id that is not a number', async () => {
    const token = await tokenFor('typo@example.com');
    const res = await inject({
      method: 'GET',
      url: '/api/v1/uploads/abc',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/params/);
  });

  it('accepts a CSV upload, names bad rows by line and keeps the good ones', async () => {
    const token = await tokenFor('uploader@example.com');
    const csv = [
      'website,company',
      'https://good.example/a,Good',
      'not a url at all,Bad',
      'https://good.example/a,Again',
      'acme.example,Acme',
    ].join('\r\n');
    const res = await inject({
      method: 'POST',
      url: '/api/v1/uploads?filename=mixed.csv',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ filename: 'mixed.csv', rows: 4, accepted: 2, rejected: 2 });
    expect(body.rejections.map((r: { line: number }) => r.line)).toEqual([3, 4]);
    expect(body.rejections[1].reason).toMatch(/duplicate of line 2/);
    const progress = await inject({
      method: 'GET',
      url: `/api/v1/uploads/${body.id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(progress.json().ingest).toMatchObject({ accepted: 2, rejected: 2 });
  });

  it('accepts the CSV as a multipart file part', async () => {
    const token = await tokenFor('multipart@example.com');
    const boundary = '----headroom';
    const payload = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="file"; filename="sites.csv"',
      'Content-Type: text/csv',
      '',
      'url\nhttps://one.example\nhttps://two.example',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const res = await inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      payload,
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ filename: 'sites.csv', accepted: 2, rejected: 0 });
  });

  it('refuses a CSV without a url column with 400 and creates no upload', async () => {
    const token = await tokenFor('nocolumn@example.com');
    const before = (await pipeline.store.stats()).uploads.total;
    const res = await inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      payload: 'company,name\nAcme,Jo\n',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('HRM_CSV_INVALID');
    expect(res.json().error.message).toMatch(/company/);
    expect((await pipeline.store.stats()).uploads.total).toBe(before);
  });

  it('refuses an empty CSV with 400', async () => {
    const token = await tokenFor('empty@example.com');
    const res = await inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      payload: '',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('HRM_CSV_INVALID');
  });

  it('refuses a CSV over the size limit with 413', async () => {
    const small = await startPipeline({
      store: ':memory:',
      http: { port: 0 },
      logLevel: 'silent',
      workers: false,
      auth: FAST_AUTH,
      uploads: { maxBytes: 1024, insertBatchSize: 5 },
    });
    try {
      await small.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email: 'big@example.com', password: 'password1' },
      });
      const login = await small.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'big@example.com', password: 'password1' },
      });
      const rows = Array.from({ length: 200 }, (_, i) => `https://site${i}.example/`).join('\n');
      const res = await small.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: { authorization: `Bearer ${login.json().accessToken}`, 'content-type': 'text/csv' },
        payload: `website\n${rows}\n`,
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().error.code).toBe('HRM_CSV_TOO_LARGE');

      // Streamed without a length, the limit is found part-way: rows already inserted are removed.
      const streamed = await small.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: { authorization: `Bearer ${login.json().accessToken}`, 'content-type': 'text/csv' },
        payload: Readable.from(
          [`website\n${rows.slice(0, 600)}\n`, `${rows.slice(600)}\n`].map((t) => Buffer.from(t)),
        ),
      });
      expect(streamed.statusCode).toBe(413);
      const stats = await small.store.stats();
      expect(stats.uploads.total).toBe(0);
      expect(Object.values(stats.websites).reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('queues a task and reports it', async () => {
    const token = await tokenFor('tasker@example.com');
    const res = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { authorization: `Bearer ${token}` },
      payload: { type: 'sleep', workMs: 1 },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'queued', type: 'sleep' });
    const bad = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { authorization: `Bearer ${token}` },
      payload: { type: 'teleport' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/body\.type/);
  });

  it('serves dashboard stats with queue depths', async () => {
    const token = await tokenFor('viewer@example.com');
    const res = await inject({
      method: 'GET',
      url: '/api/v1/dashboard/stats',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.users).toBeGreaterThan(0);
    expect(Object.keys(body.queues).sort()).toEqual([
      'ai_processing',
      'file_processing',
      'scraping',
      'tasks',
    ]);
  });

  it('exposes Prometheus metrics with request durations and queue depths', async () => {
    await inject({ method: 'GET', url: '/api/v1/health' });
    const res = await inject({ method: 'GET', url: '/api/v1/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const text = res.body;
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'headroom_http_request_duration_seconds_bucket',
      'headroom_queue_jobs',
      'headroom_event_loop_utilization_ratio',
    ]) {
      expect(text, name).toContain(name);
    }
    expect(text).toMatch(
      /headroom_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/health"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/headroom_queue_jobs\{queue="scraping",state="waiting"\} \d+/);
  });
});
