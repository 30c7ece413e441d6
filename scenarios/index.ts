/** The load engines, their results and the pieces a scenario runner builds on. */

export { describeHost, type HostDescription } from '../results/host-description.js';
export { LatencyHistogram } from '../results/latency-histogram.js';
export {
  checkRunResult,
  RUN_RESULT_KIND,
  RUN_RESULT_VERSION,
  type RunEngine,
  type RunMetric,
  type RunResult,
  type RunStep,
  readRunResult,
  type ScheduleAccuracy,
  type TimeSeriesPoint,
  writeRunResult,
} from '../results/run-result.js';
export type { ConstantPhase, LoadPhase, RampPhase } from './arrival-schedule.js';
export {
  type AutocannonOptions,
  type AutocannonReport,
  type AutocannonRun,
  runAutocannon,
} from './autocannon-driver.js';
export { type ClosedModelOptions, runClosedModel } from './closed-model-engine.js';
export { DEFAULT_FLOW, type EngineOptions } from './engine-options.js';
export type { ErrorClass } from './error-class.js';
export type { FlowStep } from './flow-step.js';
export { type OpenModelOptions, runOpenModel } from './open-model-engine.js';
export type { RunProgress } from './run-recorder.js';
