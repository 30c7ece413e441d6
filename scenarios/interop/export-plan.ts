import { UsageInvalidError } from '../../errors.js';
import type { FlowStep } from '../flow-step.js';
import type { Scenario, ScenarioLoad } from '../load-scenario.js';
import type { Threshold } from '../threshold.js';

/** What every exporter (k6, Artillery, Locust) writes, worked out once from a scenario. */
export interface ExportPlan {
  scenario: Scenario;
  /** Base URL of the API, without a trailing slash (…/api/v1). */
  target: string;
  /** The requests of one iteration, in order. */
  flow: ExportStep[];
  /** Users registered and logged in before the load; iteration k acts as user k mod users. */
  users: number;
  load: ScenarioLoad;
  /** Thresholds by our metric name, and what each tool can check of them. */
  thresholds: Array<{ metric: string; list: Threshold[]; kind: ThresholdKind; step?: string }>;
  /** Lines for the file's header: how this export differs from headroom's own run. */
  notes: string[];
}

/**
 * What a threshold's metric is, for a tool: latency of all steps or one step, error rate of all
 * or one, request count/rate, or a figure only headroom's runner measures.
 */
export type ThresholdKind = 'latency' | 'errors' | 'requests' | 'headroom-only';

export interface ExportStep extends FlowStep {
  /** Every capture's JSON path as keys, e.g. `$.data.items[0].id` → ['data', 'items', 0, 'id']. */
  captureKeys: Record<string, (string | number)[]>;
}

/** Setup users of an exported script (when the runner does not hand it its own). */
export function exportUserEmail(index: number | string): string {
  return `headroom-export-${index}@headroom.test`;
}
/** One password for every exported user, so a tool can pick a user by index alone. */
export const EXPORT_USER_PASSWORD = 'headroom-export-password';

/** Variables every iteration has from its setup user. */
export const USER_VARIABLES = ['email', 'password', 'token'] as const;

/**
 * Works out what an exporter writes for `scenario`. The database scenario drives the store's pool
 * directly, not HTTP, so no HTTP tool can run it; the worker scenario becomes its HTTP part (submit
 * a task, read it back once), as its queue wait and completion come from the pipeline's own
 * timestamps, which only headroom's runner reads.
 */
export function exportPlan(scenario: Scenario, target: string): ExportPlan {
  if (!scenario.load)
    throw new UsageInvalidError(
      `the ${scenario.name} scenario's ${scenario.profile} profile has no load to export`,
    );
  const notes: string[] = [];
  let flow: FlowStep[];
  if (scenario.type === 'database') {
    throw new UsageInvalidError(
      `the ${scenario.name} scenario drives the store through its connection pool, not over HTTP, so no HTTP tool can run it; use "headroom run ${scenario.name}"`,
    );
  } else if (scenario.type !== 'http' && scenario.type !== 'memory-leak' && scenario.type !== 'worker') {
    throw new UsageInvalidError(
      `the ${scenario.name} scenario (${scenario.type}) is not a flow of HTTP requests, so no HTTP tool can run it; use "headroom run ${scenario.name}"`,
    );
  } else if (scenario.type === 'worker') {
    flow = [
      {
        name: 'submit',
        method: 'POST',
        path: '/tasks',
        headers: { authorization: 'Bearer ${token}' },
        json: { type: scenario.task.type, workMs: scenario.task.workMs },
        capture: { task_id: '$.id' },
      },
      {
        name: 'status',
        method: 'GET',
        path: '/tasks/${task_id}',
        headers: { authorization: 'Bearer ${token}' },
      },
    ];
    notes.push(
      'The worker scenario as HTTP: submit a task, then read it back once. Queue wait and completion',
      'times come from the pipeline\'s own timestamps; only "headroom run worker" reads them.',
    );
  } else {
    flow = scenario.flow;
  }
  if (scenario.type === 'memory-leak') {
    notes.push(
      'The load of the memory-leak scenario; the heap after GC is sampled by "headroom run memory-leak"',
      '(it needs the pipeline started with --admin), not by this script.',
    );
  }
  const stepNames = new Set(flow.map((s) => s.name));
  const thresholds = Object.entries(scenario.thresholds).map(([metric, list]) => {
    const [base, step] = metric.split(':', 2) as [string, string | undefined];
    let kind: ThresholdKind = 'headroom-only';
    if ((base === 'latency' || base === 'service_time') && (step === undefined || stepNames.has(step)))
      kind = 'latency';
    else if (base === 'errors' && (step === undefined || stepNames.has(step))) kind = 'errors';
    else if (base === 'requests' && step === undefined) kind = 'requests';
    return { metric, list, kind, ...(step === undefined ? {} : { step }) };
  });
  if (scenario.thresholds.latency || Object.keys(scenario.thresholds).some((m) => m.startsWith('latency:')))
    notes.push(
      "headroom's latency counts from each request's intended send time (coordinated omission",
      "corrected); this tool's response time counts from the actual send, so under overload it reads lower.",
    );
  return {
    scenario,
    target: target.replace(/\/+$/, ''),
    flow: flow.map((step) => ({
      ...step,
      captureKeys: Object.fromEntries(
        Object.entries(step.capture ?? {}).map(([name, path]) => [name, jsonPathKeys(path)]),
      ),
    })),
    users: Math.max(1, scenario.setup.users),
    load: scenario.load,
    thresholds,
    notes,
  };
}

/** Splits a JSON path of the subset the flow accepts (`$.a.b[0].c`) into keys. */
export function jsonPathKeys(path: string): (string | number)[] {
  const body = path.startsWith('$') ? path.slice(1) : `.${path}`;
  const keys: (string | number)[] = [];
  const token = /\.([^.[\]]+)|\[(\d+)\]|\["([^"]*)"\]/y;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    const match = token.exec(body);
    if (!match)
      throw new UsageInvalidError(`"${path}" is not a JSON path like $.data.token or $.items[0].id`);
    keys.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : match[3]!));
    at = token.lastIndex;
  }
  return keys;
}

/** The `${name}` variables a step reads, in order of appearance, without repeats. */
export function stepVariables(step: FlowStep): string[] {
  const text = [step.path, ...Object.values(step.headers ?? {}), JSON.stringify(step.json ?? null)].join(
    '\n',
  );
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
}

/** The largest arrival rate of an open load (iterations per second). */
export function peakRateRps(load: ScenarioLoad): number {
  if (load.model === 'closed') return 0;
  return Math.max(...load.phases.map((p) => ('rateRps' in p ? p.rateRps : Math.max(p.fromRps, p.toRps))));
}

/** Seconds as a tool duration string: `30s`, `1.5s`. */
export function seconds(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}
