/** headroom's library core: everything the CLI does, a program can do through these exports. */
export { type CapacityOptions, capacityFromSample } from './analyzer/capacity-model.js';
export { type CapacityReport, writeCapacityReport } from './analyzer/capacity-report.js';
export {
  capacityFromDeclared,
  type DeclaredCapacity,
  loadDeclaredCapacity,
  parseDeclaredCapacity,
} from './analyzer/declared-capacity.js';
export {
  currentHostProfile,
  type HostProfile,
  loadHostProfile,
  parseHostProfile,
} from './analyzer/host-profile.js';
export {
  type CombinedWindow,
  PIPELINE_SAMPLE_KIND,
  PIPELINE_SAMPLE_VERSION,
  type PipelineSample,
  type StageMeasurement,
  type StageName,
  type StagePoint,
} from './analyzer/pipeline-sample.js';
export {
  checkPipelineSample,
  readPipelineSample,
  readPipelineSampleFile,
  writePipelineSample,
} from './analyzer/pipeline-sample-file.js';
export {
  compareScenarioTrials,
  DEFAULT_GATE_OPTIONS,
  DEFAULT_GATE_TRIALS,
  type GateOptions,
  type GateOutcome,
  gateOutcome,
  overallVerdictLine,
  type ScenarioGate,
} from './analyzer/regression-gate.js';

export { type RunSummary, summarizeRun } from './analyzer/summary.js';
export { compareTrialSets, loadTrialSet, type TrialSet } from './analyzer/trial-set.js';
export { fitUsl, type UslFit, uslConcurrencyFor, uslThroughput } from './analyzer/usl-fit.js';
export { writeFileAtomic } from './atomic-file.js';
export {
  type Baseline,
  DEFAULT_BASELINE_DIR,
  listBaselines,
  loadBaseline,
  readBaselineFile,
  saveBaseline,
} from './baselines/baseline-store.js';
export { type HostFingerprint, hostFingerprint } from './baselines/host-fingerprint.js';
export { measureBaselines } from './baselines/measure-baseline.js';
export { ConfigInvalidError, ErrorCode, HeadroomError, UsageInvalidError } from './errors.js';
export { ExitCode } from './exit-code.js';
export { configuredService, freeLoopbackPort } from './gate/configured-service.js';
export {
  findProjectConfig,
  loadProjectConfig,
  PROJECT_CONFIG_FILE,
  type ProjectConfig,
  parseProjectConfig,
} from './gate/project-config.js';
export { initProject, type ProjectAnswers } from './gate/project-init.js';
export { referencePipeline } from './gate/reference-pipeline.js';
export { type GateRoundProgress, type GateRun, type RunGateOptions, runGate } from './gate/run-gate.js';
export type { RunningSystem, SystemUnderTest } from './gate/system-under-test.js';
export { ApiClient, ApiResponseError, type UploadReceipt } from './pipeline/api/api-client.js';
export {
  type DemoOptions,
  type DemoResult,
  type DemoStageTick,
  type DemoTick,
  runDemo,
} from './pipeline/demo.js';
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
export {
  type BarChartSpec,
  type CategoryAxis,
  type ChartPoint,
  type ChartSpec,
  escapeHtml,
  type HtmlReportDocument,
  type ReportSection,
  type ReportTable,
  renderHtmlReport,
  type TableCell,
  type ValueAxis,
  type XyChartSpec,
  type XySeries,
} from './reports/html-report.js';
export { renderJsonReport } from './reports/json-report.js';
export { renderJunitReport } from './reports/junit-report.js';
export { renderMarkdownReport } from './reports/markdown-report.js';
export { type RunReportOptions, runReportDocument } from './reports/run-report.js';
export { UNKNOWN_HOST } from './results/host-description.js';
export {
  CLINIC_TOOL,
  type ClinicProfile,
  type ClinicTool,
  runClinicProfile,
} from './scenarios/clinic-profile.js';
export { ARTILLERY_TOOL, type ArtilleryRun, runArtillery } from './scenarios/interop/artillery-driver.js';
export { type ArtilleryExportOptions, exportArtillery } from './scenarios/interop/artillery-export.js';
export { type ArtilleryImportOptions, importArtilleryReport } from './scenarios/interop/artillery-import.js';
export { type AutocannonFlowRun, runAutocannonFlow } from './scenarios/interop/autocannon-flow-driver.js';
export { importAutocannonJson } from './scenarios/interop/autocannon-import.js';
export { type ExportPlan, exportPlan } from './scenarios/interop/export-plan.js';
export type { ImportOptions } from './scenarios/interop/imported-result.js';
export { exportK6 } from './scenarios/interop/k6-export.js';
export {
  importK6,
  importK6JsonOutput,
  importK6Summary,
  readK6File,
  readK6JsonOutput,
} from './scenarios/interop/k6-import.js';
export { type LocustRun, runLocust } from './scenarios/interop/locust-driver.js';
export { exportLocust } from './scenarios/interop/locust-export.js';
export {
  importLocustCsv,
  type LocustCsv,
  type LocustImportOptions,
} from './scenarios/interop/locust-import.js';
export {
  histogramFromPercentiles,
  type ReportedDistribution,
} from './scenarios/interop/percentile-histogram.js';
export { DRIVERS, type Driver, type DriverRun, runWithDriver } from './scenarios/interop/run-with-driver.js';
export {
  ensureTool,
  isToolInstalled,
  type ToolSpec,
  toolPaths,
  toolsDir,
} from './scenarios/interop/tool-install.js';
export {
  type PipelineSamplerOptions,
  type SamplerLevels,
  type SamplerProgress,
  samplePipeline,
} from './scenarios/pipeline-sampler.js';
export { type PipelineScenarioRun, runPipelineScenario } from './scenarios/pipeline-scenario.js';
