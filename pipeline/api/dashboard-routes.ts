import type { FastifyInstance } from 'fastify';
import { QUEUE_NAMES } from '../queue/queue-engine.js';
import type { ApiDeps } from './api.js';

export function registerDashboardRoutes(api: FastifyInstance, { store, queue, metrics }: ApiDeps): void {
  api.get('/dashboard/stats', { preHandler: api.authenticate }, async () => {
    const queues: Record<string, unknown> = {};
    for (const name of QUEUE_NAMES) queues[name] = await queue.depth(name);
    const outcomes = async (counter: typeof metrics.scrapeOutcomes) =>
      Object.fromEntries((await counter.get()).values.map((v) => [String(v.labels.outcome), v.value]));
    return {
      ...(await store.stats()),
      queues,
      outcomes: { scrape: await outcomes(metrics.scrapeOutcomes), ai: await outcomes(metrics.aiOutcomes) },
      uptimeSeconds: Math.round(process.uptime()),
    };
  });
}
