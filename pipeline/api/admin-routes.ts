import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../../errors.js';
import { httpError } from './api.js';

let forceGc: (() => void) | undefined;

/**
 * A full garbage collection on demand, without starting Node with --expose-gc: the flag is set at
 * run time and `gc` is taken from a fresh context, where V8 installs it.
 */
function fullGc(): void {
  if (!forceGc) {
    setFlagsFromString('--expose-gc');
    forceGc = runInNewContext('gc') as () => void;
  }
  forceGc();
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * GET /admin/heap: memory after a full GC, the figure a leak test regresses on time (before GC,
 * heap size mostly measures when the collector last ran). Loopback clients only.
 */
export function registerAdminRoutes(api: FastifyInstance): void {
  api.get('/admin/heap', async (request) => {
    if (!LOOPBACK.has(request.ip)) throw httpError(404, ErrorCode.NotFound, `no route GET ${request.url}`);
    const t0 = performance.now();
    fullGc();
    const gcMs = performance.now() - t0;
    const m = process.memoryUsage();
    return {
      heapUsedBytes: m.heapUsed,
      heapTotalBytes: m.heapTotal,
      rssBytes: m.rss,
      externalBytes: m.external,
      arrayBuffersBytes: m.arrayBuffers,
      gcMs,
      uptimeSeconds: process.uptime(),
    };
  });
}
