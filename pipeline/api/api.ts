import fastifyJwt from '@fastify/jwt';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ErrorCode, HeadroomError } from '../../errors.js';
import type { PipelineConfig } from '../pipeline-config.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type { QueueEngine } from '../queue/queue-engine.js';
import type { Store } from '../store/store.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerAuthRoutes } from './auth-routes.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerFaultInjection } from './fault-injection.js';
import { registerTaskRoutes } from './task-routes.js';
import { registerUploadRoutes } from './upload-routes.js';

export interface ApiDeps {
  config: PipelineConfig;
  store: Store;
  queue: QueueEngine;
  metrics: PipelineMetrics;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; email: string };
    user: { sub: string; email: string };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: 401 unless the request carries a valid bearer token. */
    authenticate: (request: import('fastify').FastifyRequest) => Promise<void>;
  }
}

/** HTTP status for each error code headroom raises on purpose inside a request. */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCode.UserExists]: 409,
  [ErrorCode.CsvInvalid]: 400,
  [ErrorCode.CsvTooLarge]: 413,
  [ErrorCode.ConfigInvalid]: 400,
};

/** Builds the reference pipeline's HTTP API under /api/v1 (not listening yet). */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const { config, metrics } = deps;
  const app = Fastify({
    logger: { level: config.logLevel },
    // Uploads stream their bodies; JSON bodies stay small.
    bodyLimit: 1024 * 1024,
    // Load tests hold thousands of keep-alive connections; the defaults would drop idle ones at 72 s.
    keepAliveTimeout: 65_000,
  });
  await app.register(fastifyJwt, {
    secret: config.auth.jwtSecret,
    sign: { expiresIn: config.auth.tokenTtlSeconds },
  });
  // preHandler: the key includes the e-mail from the body, which is not parsed yet at onRequest.
  await app.register(fastifyRateLimit, { global: false, hook: 'preHandler' });
  await app.register(fastifyMultipart, { limits: { fileSize: config.uploads.maxBytes, files: 1 } });

  app.decorate('authenticate', async (request: import('fastify').FastifyRequest) => {
    try {
      await request.jwtVerify();
    } catch {
      throw httpError(
        401,
        ErrorCode.Unauthorized,
        'a valid bearer token is required: POST /api/v1/auth/login',
      );
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    );
  });

  registerFaultInjection(app, config.inject);

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(ErrorCode.NotFound, `no route ${request.method} ${request.url}`));
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err.validation) {
      const where = err.validationContext ?? 'request';
      const problems = err.validation.map((v) => {
        const field = v.instancePath ? `${where}${v.instancePath.replaceAll('/', '.')}` : where;
        const missing = v.keyword === 'required' ? `.${String(v.params.missingProperty)}` : '';
        return `${field}${missing}: ${v.message ?? 'is invalid'}`;
      });
      return reply.status(400).send(errorBody(ErrorCode.RequestInvalid, problems.join('; ')));
    }
    if (err instanceof HeadroomError) {
      return reply.status(STATUS_BY_CODE[err.code] ?? 400).send(errorBody(err.code, err.message));
    }
    const status = err.statusCode ?? 500;
    if (status === 429) return reply.status(429).send(errorBody(ErrorCode.RateLimited, err.message));
    if (status < 500) {
      const code = err.code?.startsWith('HRM_') ? err.code : ErrorCode.RequestInvalid;
      return reply.status(status).send(errorBody(code, err.message));
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(errorBody(ErrorCode.Internal, 'internal error; see the server log'));
  });

  await app.register(
    async (api) => {
      api.get('/health', async () => ({
        status: 'ok',
        store: deps.store.kind,
        queue: deps.queue.kind,
        uptimeSeconds: Math.round(process.uptime()),
      }));
      api.get('/metrics', async (_request, reply) => {
        reply.header('content-type', metrics.registry.contentType);
        const own = await metrics.registry.metrics();
        return deps.queue.exposition ? `${own}${await deps.queue.exposition()}` : own;
      });
      registerAuthRoutes(api, deps);
      registerDashboardRoutes(api, deps);
      registerTaskRoutes(api, deps);
      registerUploadRoutes(api, deps);
      if (config.admin.enabled) registerAdminRoutes(api);
    },
    { prefix: '/api/v1' },
  );
  return app;
}

/** The body of every error response: a stable code and a message that says what to fix. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** An error that carries its HTTP status, for the error handler. */
export function httpError(statusCode: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode, code });
}
