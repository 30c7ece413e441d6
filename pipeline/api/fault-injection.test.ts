import { describe, expect, it, onTestFinished } from 'vitest';
import { type RunningPipeline, startPipeline } from '../pipeline.js';
import type { PipelineConfigInput } from '../pipeline-config.js';

async function pipelineWith(input: PipelineConfigInput): Promise<RunningPipeline> {
  const pipeline = await startPipeline({
    store: ':memory:',
    http: { port: 0 },
    logLevel: 'silent',
    workers: false,
    ...input,
  });
  onTestFinished(() => pipeline.close());
  return pipeline;
}

async function heapAfterGc(p: RunningPipeline): Promise<number> {
  const res = await p.app.inject({ method: 'GET', url: '/api/v1/admin/heap', remoteAddress: '127.0.0.1' });
  expect(res.statusCode).toBe(200);
  return res.json().heapUsedBytes as number;
}

describe('fault injection and the admin heap hook', () => {
  it('retains the configured memory per request on the heap with a leak injected', async () => {
    const p = await pipelineWith({ admin: { enabled: true }, inject: { leakBytesPerRequest: 1_000_000 } });
    const before = await heapAfterGc(p);
    for (let i = 0; i < 40; i++) await p.app.inject({ method: 'GET', url: '/api/v1/health' });
    const after = await heapAfterGc(p);
    // 40 health calls + the second heap call each retain ~1 MB: at least 35 MB more after GC.
    expect(after - before).toBeGreaterThan(35_000_000);
  });

  it('keeps the heap after GC flat without a leak', async () => {
    const p = await pipelineWith({ admin: { enabled: true } });
    for (let i = 0; i < 20; i++) await p.app.inject({ method: 'GET', url: '/api/v1/health' });
    const before = await heapAfterGc(p);
    for (let i = 0; i < 40; i++) await p.app.inject({ method: 'GET', url: '/api/v1/health' });
    const after = await heapAfterGc(p);
    expect(Math.abs(after - before)).toBeLessThan(5_000_000);
  });

  it('delays only the chosen routes with injected latency', async () => {
    const p = await pipelineWith({ inject: { latencyMs: 150, routes: ['/api/v1/health'] } });
    const slow = await p.app.inject({ method: 'GET', url: '/api/v1/health' });
    const metrics = await p.app.inject({ method: 'GET', url: '/api/v1/metrics' });
    expect(slow.statusCode).toBe(200);
    expect(metrics.statusCode).toBe(200);
    const text = metrics.body;
    // The histogram counts the health call in the 0.25 s bucket but not in the 0.1 s one.
    expect(text).toMatch(
      /headroom_http_request_duration_seconds_bucket\{le="0.1",method="GET",route="\/api\/v1\/health",status_code="200"\} 0/,
    );
    expect(text).toMatch(
      /headroom_http_request_duration_seconds_bucket\{le="0.25",method="GET",route="\/api\/v1\/health",status_code="200"\} 1/,
    );
  });

  it('spins the configured CPU on the chosen routes only', async () => {
    const p = await pipelineWith({ inject: { cpuMs: 200, routes: ['/api/v1/health'] } });
    const cpuBefore = process.cpuUsage();
    const slow = await p.app.inject({ method: 'GET', url: '/api/v1/health' });
    const cpu = process.cpuUsage(cpuBefore);
    expect(slow.statusCode).toBe(200);
    // A spin, not a wait: the process used CPU while the call was handled (less than the spin's
    // 200 ms of wall time only by what the scheduler took away on a busy machine).
    expect((cpu.user + cpu.system) / 1000).toBeGreaterThan(50);
    await p.app.inject({ method: 'GET', url: '/api/v1/metrics' });
    const text = (await p.app.inject({ method: 'GET', url: '/api/v1/metrics' })).body;
    // Health took at least the spin (past the 0.1 s bucket); the first metrics call was not spun
    // (within 0.25 s, with room for a busy machine).
    expect(text).toMatch(
      /headroom_http_request_duration_seconds_bucket\{le="0.1",method="GET",route="\/api\/v1\/health",status_code="200"\} 0/,
    );
    expect(text).toMatch(
      /headroom_http_request_duration_seconds_bucket\{le="0.25",method="GET",route="\/api\/v1\/metrics",status_code="200"\} 1/,
    );
  });

  it('answers 404 to the heap hook for a client that is not on loopback', async () => {
    const p = await pipelineWith({ admin: { enabled: true } });
    const res = await p.app.inject({ method: 'GET', url: '/api/v1/admin/heap', remoteAddress: '10.1.2.3' });
    expect(res.statusCode).toBe(404);
  });

  it('has no heap hook unless enabled', async () => {
    const p = await pipelineWith({});
    const res = await p.app.inject({ method: 'GET', url: '/api/v1/admin/heap', remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(404);
  });
});
