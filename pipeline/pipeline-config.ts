import { ConfigInvalidError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import schema from './pipeline-config.schema.json' with { type: 'json' };
import type { QueueName } from './queue/queue-engine.js';
import type { ScraperOptions } from './scraper/scraper.js';

/** The reference pipeline's configuration; defaults and shapes live in pipeline-config.schema.json. */
export interface PipelineConfig {
  store: string;
  queue: string;
  http: { host: string; port: number };
  logLevel: 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  workers: boolean;
  auth: {
    jwtSecret: string;
    tokenTtlSeconds: number;
    scryptCost: number;
    loginRateLimit: { max: number; windowSeconds: number };
  };
  concurrency: Record<QueueName, number>;
  retry: { attempts: number; baseDelayMs: number };
  uploads: {
    maxBytes: number;
    insertBatchSize: number;
    maxRejectionsReported: number;
    dispatchBatchSize: number;
  };
  scraper: Partial<ScraperOptions>;
  scrapeCache: { url: string; ttlSeconds: number; maxEntries: number };
  llm: {
    baseUrl: string;
    apiKey?: string;
    model: string;
    stream: boolean;
    maxTokens: number;
    timeoutMs: number;
    retries: number;
    retryBaseDelayMs: number;
    maxConnections: number;
  };
  writeBatch: { maxRecords: number; maxDelayMs: number };
  inject: {
    leakBytesPerRequest: number;
    latencyMs: number;
    cpuMs: number;
    routes: string[];
    slowdown: number;
  };
  admin: { enabled: boolean };
}

/** A partial configuration: any field may be left out and takes its default. */
export type PipelineConfigInput = {
  [K in keyof PipelineConfig]?: PipelineConfig[K] extends object
    ? Partial<PipelineConfig[K]>
    : PipelineConfig[K];
};

const validate = compileSchema<PipelineConfig>(schema, { useDefaults: true });

/** Validates a configuration once, at the edge, filling defaults. `source` names it in errors. */
export function parsePipelineConfig(
  input: PipelineConfigInput,
  source = 'pipeline configuration',
): PipelineConfig {
  const data = structuredClone(input) as unknown;
  if (!validate(data)) throw new ConfigInvalidError(source, explainSchemaErrors(validate.errors!));
  const config = data as PipelineConfig;
  // An API key from the environment, as OpenAI clients read it, so keys stay out of files.
  config.llm.apiKey ??= process.env.HEADROOM_LLM_API_KEY ?? process.env.OPENAI_API_KEY;
  return config;
}
