import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { UsageInvalidError } from '../errors.js';
import { PROJECT_CONFIG_FILE, parseProjectConfig } from './project-config.js';

/** What `headroom init` asks for (flags, or questions on a TTY). */
export interface ProjectAnswers {
  /** Command that runs the service in the foreground. */
  start: string;
  build?: string;
  /** Path answering 2xx once the service is up. */
  ready: string;
  /** Default http://127.0.0.1:${port}. */
  baseUrl?: string;
  /** Scenario files and library names; default a starting scenario written beside the file. */
  suite?: string[];
  /** The Prometheus that scrapes the pipeline, and its preset, for `capacity`. */
  prometheus?: string;
  preset?: string;
}

/** The starting scenario written when no suite is given: the ready path at a modest steady rate. */
export const STARTER_SCENARIO = 'perf/smoke.json';

/**
 * Writes `headroom.config.json` (and, without a suite, a starting scenario) into `dir`, after
 * validating it like any project file. Refuses to replace an existing file unless `force`.
 * Returns the files written.
 */
export async function initProject(
  dir: string,
  answers: ProjectAnswers,
  opts: { force?: boolean } = {},
): Promise<string[]> {
  const file = path.join(dir, PROJECT_CONFIG_FILE);
  if (existsSync(file) && !opts.force)
    throw new UsageInvalidError(`${file} exists already; edit it, or pass --force to replace it`);
  const written: string[] = [];
  const suite = answers.suite?.length ? answers.suite : [STARTER_SCENARIO];
  if (!answers.suite?.length && !existsSync(path.join(dir, STARTER_SCENARIO))) {
    const phase = { load: { model: 'open', phases: [{ durationS: 4, rate: 20 }] } };
    const scenario = {
      name: 'smoke',
      description:
        'Starting scenario from headroom init: the ready path at 20 requests a second. Add your endpoints as steps.',
      type: 'http',
      setup: { users: 0 },
      flow: [{ name: 'ready', method: 'GET', path: answers.ready }],
      profiles: { quick: phase, full: phase },
    };
    await mkdir(path.join(dir, 'perf'), { recursive: true });
    await writeFileAtomic(path.join(dir, STARTER_SCENARIO), `${JSON.stringify(scenario, null, 2)}\n`);
    written.push(path.join(dir, STARTER_SCENARIO));
  }
  const config = {
    $comment: [
      'headroom project file: headroom gate --against origin/main gates this service (docs/gate-your-service.md).',
      'service.build runs once in each checkout; service.start runs the service, which listens on $PORT (or ${port} in the command).',
      'service.ready is polled until it answers 2xx; scenario paths are relative to service.baseUrl.',
      'suite: scenario files (from this folder) or library names. gate: trials per side, trialS, thresholds',
      '(latency 0.1 = +10 %, throughput 0.1, errorRatePp 0.1, resource 0.2 = +20 % CPU per request or peak RSS).',
      'telemetry (optional): the Prometheus that scrapes your pipeline and its metric names (preset headroom, celery,',
      'bullmq, or mapping: a file); "headroom capacity" reads it there (docs/capacity-from-telemetry.md).',
    ],
    service: {
      ...(answers.build ? { build: answers.build } : {}),
      start: answers.start,
      env: {},
      ready: answers.ready,
      baseUrl: answers.baseUrl ?? 'http://127.0.0.1:${port}',
    },
    suite,
    gate: { trials: 8, trialS: 4 },
    ...(answers.prometheus
      ? { telemetry: { prometheus: answers.prometheus, preset: answers.preset ?? 'headroom', window: '15m' } }
      : {}),
  };
  parseProjectConfig(structuredClone(config), file);
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
  written.push(file);
  return written;
}
