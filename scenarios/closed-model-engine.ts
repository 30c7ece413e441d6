import type { RunResult } from '../results/run-result.js';
import { type EngineOptions, resolveEngineOptions } from './engine-options.js';
import { FlowExecutor, type Iteration, type LoadModel } from './flow-executor.js';

/** Options of a closed-model run: a fixed number of virtual users, each looping the flow. */
export interface ClosedModelOptions extends EngineOptions {
  /** Virtual users; each runs one iteration at a time. */
  vus: number;
  /** Stop starting iterations after this long. Give this, `iterations`, or both (first reached wins). */
  durationMs?: number;
  /** Stop after this many iterations in all. */
  iterations?: number;
}

/**
 * Runs a closed-model load: each virtual user starts its next iteration when the previous one
 * ends (after the last step's think time). The offered load follows the target's speed, so this
 * measures capacity, not the latency users arriving on their own schedule would see.
 */
export async function runClosedModel(options: ClosedModelOptions): Promise<RunResult> {
  const problems: string[] = [];
  if (!(Number.isInteger(options.vus) && options.vus > 0)) {
    problems.push(`vus: must be a whole number > 0 (got ${JSON.stringify(options.vus)})`);
  }
  if (options.durationMs === undefined && options.iterations === undefined) {
    problems.push('durationMs or iterations: give at least one, or the run would never end');
  }
  if (options.durationMs !== undefined && !(Number.isFinite(options.durationMs) && options.durationMs > 0)) {
    problems.push(`durationMs: must be a number > 0 (got ${JSON.stringify(options.durationMs)})`);
  }
  if (options.iterations !== undefined && !(Number.isInteger(options.iterations) && options.iterations > 0)) {
    problems.push(`iterations: must be a whole number > 0 (got ${JSON.stringify(options.iterations)})`);
  }
  const load = { vus: options.vus, durationMs: options.durationMs, iterations: options.iterations };
  const settings = resolveEngineOptions('closed-model', options, load, problems);
  const executor = new FlowExecutor(settings);
  const model = new VirtualUsers(executor, options.vus, options.durationMs, options.iterations);
  await executor.run(model);
  return executor.result();
}

class VirtualUsers implements LoadModel {
  readonly plannedEndMs: number;
  private started = 0;
  private launched = false;
  private readonly restThinkMs: number;

  constructor(
    private readonly executor: FlowExecutor,
    private readonly vus: number,
    durationMs: number | undefined,
    private readonly iterations = Number.POSITIVE_INFINITY,
  ) {
    this.plannedEndMs = executor.startMs + (durationMs ?? Number.POSITIVE_INFINITY);
    this.restThinkMs = executor.steps.at(-1)?.thinkMs ?? 0;
  }

  get finished(): boolean {
    return (
      this.started >= this.iterations || performance.now() >= this.plannedEndMs || this.executor.exhausted
    );
  }

  tick(nowMs: number, budget: number): number {
    if (this.launched || this.finished) return 0;
    // All users start together; the budget only spreads their first requests over a few turns.
    let fired = 0;
    while (this.started < this.vus && fired < budget && !this.finished) {
      this.executor.startIteration(nowMs);
      this.started++;
      fired++;
    }
    if (this.started >= this.vus) this.launched = true;
    return fired;
  }

  nextDueMs(): number {
    return this.launched ? this.plannedEndMs : performance.now();
  }

  onIterationEnd(iteration: Iteration, nowMs: number): void {
    if (this.finished) return;
    this.started++;
    this.executor.startIteration(nowMs + this.restThinkMs, iteration);
  }
}
