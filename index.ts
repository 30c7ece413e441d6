/** headroom's library core: everything the CLI does, a program can do through these exports. */
export { ConfigInvalidError, ErrorCode, HeadroomError, UsageInvalidError } from './errors.js';
export { ExitCode } from './exit-code.js';
export { ApiClient, ApiResponseError, type UploadReceipt } from './pipeline/api/api-client.js';
export { type DemoOptions, type DemoResult, runDemo } from './pipeline/demo.js';
export { generateCsv } from './pipeline/ingest/csv-generator.js';
export { ingestCsv } from './pipeline/ingest/csv-ingest.js';
export { type RunningPipeline, startPipeline } from './pipeline/pipeline.js';
export {
  type PipelineConfig,
  type PipelineConfigInput,
  parsePipelineConfig,
} from './pipeline/pipeline-config.js';
export type { QueueEngine } from './pipeline/queue/queue-engine.js';
export { startLlmSimulator } from './pipeline/sim/llm-simulator.js';
export {
  type RunningSimulators,
  spawnSimulators,
  startSimulators,
} from './pipeline/sim/simulator-process.js';
export { startSiteFarm } from './pipeline/sim/site-farm.js';
export type { Store } from './pipeline/store/store.js';
