import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { PipelineConfig } from '../pipeline-config.js';

/**
 * Regressions on purpose: retained memory per request (a leak), added latency or a fixed CPU spin on
 * chosen routes, and extra CPU per request in proportion to its handling. They exist so that the
 * leak test and the regression gate can be shown to catch what they claim to catch. All off by
 * default.
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
  const routes = new Set(inject.routes);
  const chosen = (url: string | undefined) => routes.size === 0 || routes.has(url ?? '');
  if (inject.latencyMs > 0) {
    app.addHook('onRequest', async (request) => {
      if (chosen(request.routeOptions.url)) await sleep(inject.latencyMs);
    });
  }
  if (inject.cpuMs > 0) {
    // A fixed spin, not a share of the handling: a benchmark sets it to a measured fraction of a
    // step's latency, so the change it injects is known in the figure the gate compares. Timers
    // cannot add a few milliseconds that exactly (they fire on whole milliseconds, late).
    const spinNs = inject.cpuMs * 1e6;
    app.addHook('onRequest', async (request) => {
      if (chosen(request.routeOptions.url)) spin(spinNs);
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
      if (start !== undefined) spin(Number(process.hrtime.bigint() - start) * extra);
      return payload;
    });
  }
}

/** Keeps the CPU busy for `ns` nanoseconds: CPU work, not a sleep. */
function spin(ns: number): void {
  const until = process.hrtime.bigint() + BigInt(Math.round(ns));
  while (process.hrtime.bigint() < until) {
    // busy on purpose
  }
}
