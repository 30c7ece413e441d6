export {
  type LlmSimulator,
  type LlmSimulatorOptions,
  type LlmSimulatorStats,
  startLlmSimulator,
} from './llm-simulator.js';
export {
  type RunningSimulators,
  type SimulatorsOptions,
  type SimulatorsUsage,
  spawnSimulators,
  startSimulators,
} from './simulator-process.js';
export {
  type SiteFarm,
  type SiteFarmOptions,
  type SiteFarmStats,
  siteUrlFor,
  startSiteFarm,
} from './site-farm.js';
