import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../../errors.js';
import type { ApiDeps } from './api.js';
import { httpError } from './api.js';

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;

export function registerTaskRoutes(api: FastifyInstance, { store, queue }: ApiDeps): void {
  api.post(
    '/tasks',
    {
      preHandler: api.authenticate,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            // sleep: I/O-bound work; cpu: burns the core; fail: always fails (exercises retries).
            type: { enum: ['sleep', 'cpu', 'fail'], default: 'sleep' },
            workMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 100 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { type: string; workMs: number };
      const task = await store.createTask(Number(request.user.sub), body.type, body);
      await queue.enqueue('tasks', { taskId: task.id, type: body.type, workMs: body.workMs });
      return reply.status(202).send(task);
    },
  );

  api.get('/tasks/:id', { preHandler: api.authenticate, schema: { params: idParams } }, async (request) => {
    const { id } = request.params as { id: number };
    const task = await store.getTask(id);
    if (!task || task.userId !== Number(request.user.sub))
      throw httpError(404, ErrorCode.NotFound, `no task ${id}`);
    return task;
  });
}
