import { ConfigInvalidError } from '../errors.js';
import { configHash } from '../results/config-hash.js';
import type { FlowExecutorOptions } from './flow-executor.js';
import { CompiledStep, type FlowStep } from './flow-step.js';
import type { RunProgress } from './run-recorder.js';

/** Options both load models take. */
export interface EngineOptions {
  /** Base URL; step paths are appended to its path. */
  target: string;
  /** The steps of one iteration; default: one `GET /`. */
  flow?: FlowStep[];
  /** Bound on each request (connect, headers, and each gap in the body); default 10 s. */
  timeoutMs?: number;
  /**
   * After the load ends, how long in-flight iterations may finish before their requests are cut
   * and counted as `interrupted`; default 10 s (as long as the default timeout, so that normally
   * every request either finishes or times out).
   */
  gracefulStopMs?: number;
  /** Stop once this many requests have been sent (all steps together). */
  maxRequests?: number;
  /**
   * Most keep-alive connections to the target; default 512. A request that finds them all busy
   * waits in the client, and the wait counts in its latency (measured from the intended send
   * time), so a cap never hides a slow target. The default is enough for 200 req/s held by a
   * one-second stall and stays under the common 1,024 open-files limit. Unbounded, a burst opens
   * a connection per request in flight, and spreading requests over hundreds of sockets cost the
   * generator ~40% more CPU per request on a 2-core machine (bench/engine-bench.ts).
   */
  connections?: number;
  /** Aborting stops the run at once; the result covers what happened until then. */
  signal?: AbortSignal;
  /** Called once a second with live figures. */
  onProgress?: (progress: RunProgress) => void;
  /**
   * Variables an iteration starts with (before any capture), by iteration number: e.g. the
   * credentials of setup user k mod n, so that many users take part, not one.
   */
  varsFor?: (iteration: number) => Record<string, string>;
  /** The names `varsFor` provides, so the flow check knows them. */
  varNames?: readonly string[];
  /** Names the run in its result; `configHash` is computed from the load settings. */
  scenario?: { name: string; profile?: 'quick' | 'full' };
}

/** The default flow: one GET of the target's path. */
export const DEFAULT_FLOW: readonly FlowStep[] = [{ name: 'GET /', method: 'GET', path: '/' }];

const DEFAULT_CONNECTIONS = 512;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Checks the options both models share, once, where they enter; returns the executor settings.
 * `load` is the model's own settings, included in the config hash; `problems` holds what the
 * model found wrong with them, reported together with these in one ConfigInvalidError.
 */
export function resolveEngineOptions(
  engine: FlowExecutorOptions['engine'],
  options: EngineOptions,
  load: Record<string, unknown>,
  problems: string[],
): FlowExecutorOptions {
  const source = `${engine} options`;
  const flow = options.flow ?? [...DEFAULT_FLOW];
  checkTarget(options.target, problems);
  checkFlow(flow, problems, options.varNames ?? []);
  for (const key of ['timeoutMs', 'gracefulStopMs', 'maxRequests', 'connections'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      problems.push(`${key}: must be a number > 0 (got ${JSON.stringify(value)})`);
    }
  }
  if (options.scenario?.profile !== undefined && !['quick', 'full'].includes(options.scenario.profile)) {
    problems.push(
      `scenario.profile: must be one of quick, full (got ${JSON.stringify(options.scenario.profile)})`,
    );
  }
  if (problems.length > 0) throw new ConfigInvalidError(source, problems);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const settings = {
    engine,
    load,
    flow,
    timeoutMs,
    maxRequests: options.maxRequests,
    connections: options.connections,
  };
  return {
    engine,
    target: options.target,
    flow,
    timeoutMs,
    gracefulStopMs: options.gracefulStopMs ?? 10_000,
    maxRequests: options.maxRequests ?? Number.POSITIVE_INFINITY,
    connections: options.connections ?? DEFAULT_CONNECTIONS,
    signal: options.signal,
    onProgress: options.onProgress,
    varsFor: options.varsFor,
    scenario: {
      name: options.scenario?.name ?? 'ad-hoc',
      profile: options.scenario?.profile ?? 'quick',
      configHash: configHash(settings),
    },
  };
}

function checkTarget(target: unknown, problems: string[]): void {
  try {
    const url = new URL(String(target));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`target: must be an http:// or https:// URL (got ${JSON.stringify(target)})`);
    }
  } catch {
    problems.push(`target: must be a URL like http://127.0.0.1:3000 (got ${JSON.stringify(target)})`);
  }
}

function checkFlow(flow: readonly FlowStep[], problems: string[], given: readonly string[]): void {
  if (!Array.isArray(flow) || flow.length === 0) {
    problems.push('flow: must list at least one step');
    return;
  }
  const names = new Set<string>();
  const captured = new Set<string>(given);
  flow.forEach((step, i) => {
    const at = `flow/${i}`;
    if (!step.name) problems.push(`${at}/name: must not be empty`);
    else if (names.has(step.name)) problems.push(`${at}/name: "${step.name}" is used by an earlier step`);
    names.add(step.name);
    if (!METHODS.has(step.method)) problems.push(`${at}/method: must be one of ${[...METHODS].join(', ')}`);
    if (typeof step.path !== 'string' || !step.path.startsWith('/')) {
      problems.push(`${at}/path: must start with / (got ${JSON.stringify(step.path)})`);
    }
    if (step.thinkMs !== undefined && !(Number.isFinite(step.thinkMs) && step.thinkMs >= 0)) {
      problems.push(`${at}/thinkMs: must be a number >= 0 (got ${JSON.stringify(step.thinkMs)})`);
    }
    let compiled: CompiledStep;
    try {
      compiled = new CompiledStep(step, '');
    } catch (err) {
      problems.push(`${at}/capture: ${(err as Error).message}`);
      return;
    }
    for (const variable of compiled.variables) {
      if (!captured.has(variable)) {
        problems.push(
          `${at}: \${${variable}} is not captured by an earlier step; add capture: { ${variable}: '$.…' }`,
        );
      }
    }
    for (const variable of compiled.captured) captured.add(variable);
  });
}
