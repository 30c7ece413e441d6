import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageInvalidError } from '../../errors.js';
import type { RunResult } from '../../results/run-result.js';
import { type EmbeddedTarget, startEmbeddedTarget } from '../embedded-target.js';
import type { Scenario } from '../load-scenario.js';
import { runMetrics } from '../run-metrics.js';
import {
  assertTargetAllowed,
  type RunScenarioOptions,
  runScenario,
  type ScenarioRun,
} from '../run-scenario.js';
import { type SetupUser, setupUsers } from '../scenario-setup.js';
import { startServerSampler } from '../server-sampler.js';
import { evaluateThresholds } from '../threshold.js';
import { runArtillery } from './artillery-driver.js';
import { runAutocannonFlow } from './autocannon-flow-driver.js';
import { type ExportPlan, exportPlan } from './export-plan.js';
import { runLocust } from './locust-driver.js';

/** Load generators `headroom run --driver` can use. */
export const DRIVERS = ['headroom', 'autocannon', 'artillery', 'locust'] as const;
export type Driver = (typeof DRIVERS)[number];

export interface DriverRunOptions extends RunScenarioOptions {
  /** Folder for the tool's script and report; default a temporary folder, removed afterwards. */
  workDir?: string;
  /** One line of the tool's own output at a time (install progress, its console). */
  onToolOutput?: (line: string) => void;
  /** autocannon connections; default the scenario's VUs (closed) or 50. */
  connections?: number;
}

/** A run by another tool: the common verdict, and the files the tool read and wrote (when kept). */
export interface DriverRun extends ScenarioRun {
  /** The tool's own report (Artillery JSON, Locust stats CSV), when `workDir` was given. */
  reportFile?: string;
}

/**
 * Runs a scenario with the chosen load generator. `headroom` is runScenario (the built-in engines).
 * For the others the steps are the same as a native run: the reference pipeline is started
 * unless a target is given, the setup users are registered before the load (and handed to the
 * tool), the target's /metrics is sampled every second alongside, the tool's result becomes a
 * RunResult, and the scenario's thresholds are checked on it as on a native run.
 */
export async function runWithDriver(
  scenario: Scenario,
  driver: Driver,
  opts: DriverRunOptions = {},
): Promise<DriverRun> {
  if (driver === 'headroom') return runScenario(scenario, opts);
  if (scenario.type !== 'http' && scenario.type !== 'memory-leak')
    throw new UsageInvalidError(
      `--driver ${driver} runs HTTP flows; the ${scenario.name} scenario (${scenario.type}) runs only with --driver headroom`,
    );
  if (scenario.type === 'memory-leak')
    throw new UsageInvalidError(
      `the ${scenario.name} scenario samples the heap of the pipeline it starts; run it with --driver headroom`,
    );
  let embedded: EmbeddedTarget | undefined;
  let apiUrl = opts.target?.replace(/\/$/, '');
  if (apiUrl) await assertTargetAllowed(apiUrl, opts.allowRemote);
  else {
    embedded = await startEmbeddedTarget({ args: opts.targetArgs ?? [] });
    apiUrl = embedded.apiUrl;
  }
  const workDir = opts.workDir ?? (await mkdtemp(path.join(os.tmpdir(), `headroom-${driver}-`)));
  try {
    const plan = exportPlan(scenario, apiUrl);
    const users = await setupUsers(apiUrl, plan.users, randomUUID().slice(0, 8));
    const sampler = startServerSampler(`${apiUrl}/metrics`, { signal: opts.signal });
    let result: RunResult | undefined;
    let reportFile: string | undefined;
    try {
      ({ result, reportFile } = await runTool(driver, plan, users, workDir, opts));
    } finally {
      const samples = await sampler.stop();
      if (result) result.serverSamples = samples as unknown as RunResult['serverSamples'];
    }
    const thresholds = evaluateThresholds(scenario.thresholds, runMetrics(result));
    return {
      result,
      thresholds,
      passed: thresholds.every((t) => t.passed),
      ...(opts.workDir && reportFile ? { reportFile } : {}),
    };
  } finally {
    if (!opts.workDir) await rm(workDir, { recursive: true, force: true });
    await embedded?.close();
  }
}

async function runTool(
  driver: Exclude<Driver, 'headroom'>,
  plan: ExportPlan,
  users: SetupUser[],
  workDir: string,
  opts: DriverRunOptions,
): Promise<{ result: RunResult; reportFile?: string }> {
  const common = { workDir, users, signal: opts.signal, onOutput: opts.onToolOutput };
  if (driver === 'artillery') {
    const run = await runArtillery(plan, common);
    return { result: run.result, reportFile: run.reportFile };
  }
  if (driver === 'locust') {
    const run = await runLocust(plan, common);
    return { result: run.result, reportFile: `${run.csvPrefix}_stats.csv` };
  }
  const run = await runAutocannonFlow(plan, {
    users,
    signal: opts.signal,
    onProgress: (p) => opts.onProgress?.({ ...p, phase: 'load' }),
    ...(opts.connections ? { connections: opts.connections } : {}),
  });
  return { result: run.result };
}
