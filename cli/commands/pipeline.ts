import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigInvalidError, UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { startPipeline, startPipelineWorker } from '../../pipeline/pipeline.js';
import type { PipelineConfigInput } from '../../pipeline/pipeline-config.js';
import { serveMetrics } from '../../pipeline/pipeline-metrics.js';
import { QUEUE_NAMES, type QueueName } from '../../pipeline/queue/queue-engine.js';
import type { CliIo } from '../cli-io.js';
import { defined, numberFlag } from '../flag-value.js';
import { waitForSignal } from '../wait-for-signal.js';

export const pipelineHelp = `headroom pipeline start [options]
headroom pipeline worker [--queues scraping,ai_processing] [--concurrency N] [options]

start:  runs the reference pipeline's API (and, unless --no-workers, its queue workers).
worker: runs queue workers only, as their own process; with PostgreSQL and Redis
        (--store postgres://… --queue redis://…) any number of them share the work.
Both run until SIGINT/SIGTERM, then stop taking jobs and let running ones finish.
  --config FILE           JSON configuration (see pipeline/pipeline-config.schema.json)
  --store URL             sqlite:<file> (default sqlite:.headroom/pipeline.db) or postgres://…
  --queue URL             in-process (default) or redis://…
  --host H --port P       where the API listens (default 127.0.0.1:3000)
  --no-workers            API only (start)
  --queues LIST           queues this worker serves (default: all)
  --concurrency N         jobs in flight per served queue (worker; default: the configured ones)
  --metrics-port P        serve this worker's Prometheus metrics at http://HOST:P/metrics (worker;
                          0 picks a free port; the address is printed)
  --llm-base-url URL      OpenAI-compatible endpoint (e.g. from "headroom sim llm")
  --llm-model NAME
  --allow-host PATTERN    let the scraper reach a private address for this host (repeatable)
  --resolve PATTERN=IP    resolve a host pattern to an address, like curl --resolve (repeatable)
  --admin                 GET /api/v1/admin/heap for loopback clients: heap after a full GC
Regressions on purpose (to prove a leak test or a gate catches them):
  --inject-leak BYTES     retain BYTES on the heap per request
  --inject-latency-ms N   wait N ms before handling requests of --inject-routes (default: all routes)
  --inject-cpu-ms N       spin N ms of CPU before handling requests of --inject-routes
  --inject-routes LIST    e.g. /api/v1/health,/api/v1/dashboard/stats
  --slowdown F            multiply the CPU time of request handling by F
`;

export async function pipelineCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub !== 'start' && sub !== 'worker')
    throw new UsageInvalidError(`unknown "pipeline ${sub ?? ''}"; use "pipeline start" or "pipeline worker"`);
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      store: { type: 'string' },
      queue: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'no-workers': { type: 'boolean', default: false },
      queues: { type: 'string' },
      concurrency: { type: 'string' },
      'metrics-port': { type: 'string' },
      'llm-base-url': { type: 'string' },
      'llm-model': { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      resolve: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      admin: { type: 'boolean', default: false },
      'inject-leak': { type: 'string' },
      'inject-latency-ms': { type: 'string' },
      'inject-cpu-ms': { type: 'string' },
      'inject-routes': { type: 'string' },
      slowdown: { type: 'string' },
    },
  });
  const config = await configFromFlags(values);
  if (sub === 'worker') return runWorker(config, values, io);

  const pipeline = await startPipeline(config);
  io.stdout(
    `headroom pipeline: API on ${pipeline.apiUrl} (store ${pipeline.store.kind}, queue ${pipeline.queue.kind}, ` +
      `workers ${pipeline.config.workers ? 'on' : 'off'})\n`,
  );
  if (pipeline.recoveredUploads.length)
    io.stdout(`resumed unfinished uploads: ${pipeline.recoveredUploads.join(', ')}\n`);
  const signal = await waitForSignal();
  io.stdout(`${signal}: finishing in-flight jobs…\n`);
  await pipeline.close();
  return ExitCode.Pass;
}

async function runWorker(
  config: PipelineConfigInput,
  values: { queues?: string; concurrency?: string; 'metrics-port'?: string; host?: string },
  io: CliIo,
): Promise<ExitCode> {
  const queues = (values.queues ?? QUEUE_NAMES.join(',')).split(',').map((q) => q.trim());
  for (const q of queues) {
    if (!(QUEUE_NAMES as readonly string[]).includes(q))
      throw new UsageInvalidError(`--queues: unknown queue "${q}"; use ${QUEUE_NAMES.join(', ')}`);
  }
  const concurrency = numberFlag('concurrency', values.concurrency, { min: 1, integer: true });
  const metricsPort = numberFlag('metrics-port', values['metrics-port'], {
    min: 0,
    max: 65_535,
    integer: true,
  });
  if (concurrency !== undefined) {
    config.concurrency = {
      ...config.concurrency,
      ...Object.fromEntries(queues.map((q) => [q, concurrency])),
    };
  }
  const worker = await startPipelineWorker(config, queues as QueueName[]);
  const metrics =
    metricsPort === undefined
      ? undefined
      : await serveMetrics(worker.metrics.registry, { host: values.host, port: metricsPort });
  const served = queues.map((q) => `${q}×${worker.config.concurrency[q as QueueName]}`).join(', ');
  io.stdout(
    `headroom worker ${process.pid}: serving ${served} (store ${config.store ?? 'default'}, queue ${worker.config.queue})` +
      `${metrics ? `; metrics at ${metrics.url}` : ''}\n`,
  );
  const signal = await waitForSignal();
  io.stdout(`${signal}: finishing in-flight jobs…\n`);
  await worker.close();
  await metrics?.close();
  return ExitCode.Pass;
}

type PipelineFlags = {
  config?: string;
  store?: string;
  queue?: string;
  host?: string;
  port?: string;
  'no-workers'?: boolean;
  'llm-base-url'?: string;
  'llm-model'?: string;
  'allow-host'?: string[];
  resolve?: string[];
  'log-level'?: string;
  admin?: boolean;
  'inject-leak'?: string;
  'inject-latency-ms'?: string;
  'inject-cpu-ms'?: string;
  'inject-routes'?: string;
  slowdown?: string;
};

async function configFromFlags(values: PipelineFlags): Promise<PipelineConfigInput> {
  const config: PipelineConfigInput = values.config ? await readConfig(values.config) : {};
  if (values.store) config.store = values.store;
  if (values.queue) config.queue = values.queue;
  if (values['no-workers']) config.workers = false;
  if (values['log-level']) config.logLevel = values['log-level'] as PipelineConfigInput['logLevel'];
  config.http = {
    ...config.http,
    ...(values.host ? { host: values.host } : {}),
    ...(values.port ? { port: numberFlag('port', values.port, { min: 0, max: 65535, integer: true }) } : {}),
  };
  config.llm = {
    ...config.llm,
    ...(values['llm-base-url'] ? { baseUrl: values['llm-base-url'] } : {}),
    ...(values['llm-model'] ? { model: values['llm-model'] } : {}),
  };
  const resolve: Record<string, string> = { ...config.scraper?.resolve };
  for (const pair of values.resolve ?? []) {
    const [pattern, ip] = pair.split('=');
    if (!pattern || !ip) throw new UsageInvalidError(`--resolve must be PATTERN=IP (got "${pair}")`);
    resolve[pattern] = ip;
  }
  config.scraper = {
    ...config.scraper,
    allowHosts: [...(config.scraper?.allowHosts ?? []), ...(values['allow-host'] ?? [])],
    resolve,
  };
  if (values.admin) config.admin = { ...config.admin, enabled: true };
  config.inject = {
    ...config.inject,
    ...defined({
      leakBytesPerRequest: numberFlag('inject-leak', values['inject-leak'], { min: 0, integer: true }),
      latencyMs: numberFlag('inject-latency-ms', values['inject-latency-ms'], { min: 0 }),
      cpuMs: numberFlag('inject-cpu-ms', values['inject-cpu-ms'], { min: 0 }),
      routes: values['inject-routes']?.split(',').map((r) => r.trim()),
      slowdown: numberFlag('slowdown', values.slowdown, { min: 1 }),
    }),
  };
  return config;
}

async function readConfig(file: string): Promise<PipelineConfigInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigInvalidError(file, [`cannot read it: ${(err as Error).message}`]);
  }
  try {
    return JSON.parse(text) as PipelineConfigInput;
  } catch (err) {
    throw new ConfigInvalidError(file, [`not JSON: ${(err as Error).message}`]);
  }
}
