import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CsvTooLargeError, ErrorCode } from '../../errors.js';
import { ingestCsv } from '../ingest/csv-ingest.js';
import type { UploadId } from '../store/store.js';
import type { ApiDeps } from './api.js';
import { httpError } from './api.js';

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;

export function registerUploadRoutes(api: FastifyInstance, { store, queue, config, metrics }: ApiDeps): void {
  // A CSV body is handed to the route as the raw stream: it is parsed while it arrives, never buffered.
  for (const type of ['text/csv', 'application/csv', 'application/octet-stream', 'text/plain']) {
    api.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }

  api.post('/uploads', { preHandler: api.authenticate }, async (request, reply) => {
    const declaredBytes = Number(request.headers['content-length'] ?? 0);
    if (declaredBytes > config.uploads.maxBytes) throw new CsvTooLargeError(config.uploads.maxBytes);
    const { stream, filename } = await csvSource(request);
    const userId = Number(request.user.sub);
    let uploadId: UploadId | undefined;
    // The upload row is created with the first accepted batch, so a file refused as a whole leaves
    // nothing behind; one refused part-way (too large) is discarded with the rows it had inserted.
    const summary = await ingestCsv(
      stream,
      async (rows) => {
        uploadId ??= await store.createUpload(userId, filename);
        await store.insertWebsites(uploadId, rows);
      },
      {
        maxBytes: config.uploads.maxBytes,
        batchSize: config.uploads.insertBatchSize,
        maxRejectionsReported: config.uploads.maxRejectionsReported,
      },
    ).catch(async (err: unknown) => {
      if (uploadId !== undefined) await store.discardUpload(uploadId);
      throw err;
    });
    uploadId ??= await store.createUpload(userId, filename);
    await store.finishIngest(uploadId, summary);
    metrics.rowsIngested.inc({ result: 'accepted' }, summary.accepted);
    metrics.rowsIngested.inc({ result: 'rejected' }, summary.rejected);
    await queue.enqueue('file_processing', { uploadId });
    return reply.status(201).send({
      id: uploadId,
      filename,
      rows: summary.rows,
      accepted: summary.accepted,
      rejected: summary.rejected,
      rejections: summary.rejections.map((r) => ({ line: r.lineNumber, reason: r.reason })),
      rejectionsTruncated: summary.rejections.length < summary.rejected,
      ingestMs: Math.round(summary.durationMs),
    });
  });

  api.get('/uploads/:id', { preHandler: api.authenticate, schema: { params: idParams } }, async (request) => {
    const { id } = request.params as { id: number };
    const upload = await store.getUpload(id);
    if (!upload || upload.userId !== Number(request.user.sub)) throw notFound(id);
    return upload;
  });

  api.get(
    '/uploads/:id/messages',
    {
      preHandler: api.authenticate,
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            after: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const { limit, after } = request.query as { limit: number; after?: number };
      const upload = await store.getUpload(id);
      if (!upload || upload.userId !== Number(request.user.sub)) throw notFound(id);
      return store.listMessages(id, { limit, afterId: after });
    },
  );
}

async function csvSource(request: FastifyRequest): Promise<{ stream: Readable; filename: string }> {
  if (request.isMultipart()) {
    const file = await request.file();
    if (!file)
      throw httpError(
        400,
        ErrorCode.RequestInvalid,
        'multipart body has no file part; send the CSV as "file"',
      );
    return { stream: file.file, filename: file.filename || 'upload.csv' };
  }
  if (!request.body || typeof (request.body as Readable).pipe !== 'function') {
    throw httpError(
      415,
      ErrorCode.RequestInvalid,
      'send the CSV as a text/csv body or as multipart/form-data with a "file" part',
    );
  }
  const filename = (request.query as { filename?: string }).filename ?? 'upload.csv';
  return { stream: request.body as Readable, filename };
}

function notFound(id: number): Error {
  return httpError(404, ErrorCode.NotFound, `no upload ${id}`);
}
