import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { PipelineConfig } from '../pipeline-config.js';

/**
 * Regressions on purpose: retained memory per request (a leak), added latency on chosen routes and
 * extra CPU per request. They exist so that the leak test and the regression gate can be shown to
 * catch what they claim to catch. All off by default.
 */
export function registerFaultInjection(app: FastifyInstance, inject: PipelineConfig['inject']): void {
  if (inject.leakBytesPerRequest > 0) {
    const retained: number[][] = [];
    const doubles = Math.ceil(inject.leakBytesPerRequest / 8);
    app.addHook('onRequest', async () => {
      // A packed array of doubles lives on the V8 heap (a Buffer would not: it is external memory),
      // so the leak shows where a leak test looks, in the heap after GC.
      retained.push(new Array<number>(doubles).fill(retained.length + 0.5));
    });
  }
  if (inject.latencyMs > 0) {
    const routes = new Set(inject.routes);
    app.addHook('onRequest', async (request) => {
      if (routes.size === 0 || routes.has(request.routeOptions.url ?? '')) await sleep(inject.latencyMs);
    });
  }
  if (inject.slowdown > 1) {
    const extra = inject.slowdown - 1;
    const started = new WeakMap<object, bigint>();
    app.addHook('onRequest', async (request) => {
      started.set(request, process.hrtime.bigint());
    });
    // Spins for (slowdown − 1) × the time the request took so far: CPU work scaled, not a sleep.
    app.addHook('onSend', async (request, _reply, payload) => {
      const start = started.get(request);
      if (start !== undefined) {
        const spinNs = Number(process.hrtime.bigint() - start) * extra;
        const until = process.hrtime.bigint() + BigInt(Math.round(spinNs));
        while (process.hrtime.bigint() < until) {
          // busy on purpose
        }
      }
      return payload;
    });
  }
}
