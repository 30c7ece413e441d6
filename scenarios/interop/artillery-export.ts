import { UsageInvalidError } from '../../errors.js';
import {
  EXPORT_USER_PASSWORD,
  type ExportPlan,
  type ExportStep,
  exportUserEmail,
  stepVariables,
  USER_VARIABLES,
} from './export-plan.js';

/** Options of an Artillery export. */
export interface ArtilleryExportOptions {
  /**
   * A CSV of setup users (`email,password,token` per line, no header) made by the runner: the
   * script then reads them as its payload (in order: iteration k is user k mod n) instead of
   * registering its own in `before`.
   */
  usersCsv?: string;
}

/** The metric prefix of Artillery's metrics-by-endpoint plugin, with request names only. */
export const ARTILLERY_ENDPOINT_PREFIX = 'plugins.metrics-by-endpoint';

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

/** YAML of plain data: JSON scalars (valid YAML), block mappings and sequences. */
function toYaml(value: Yaml, indent = ''): string {
  if (Array.isArray(value)) {
    // A list of scalars on one line (flow style), e.g. status codes or loop indexes.
    if (value.every((v) => v === null || typeof v !== 'object'))
      return ` [${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    return value
      .map((item) => {
        const inner = toYaml(item, `${indent}  `);
        return `\n${indent}- ${inner.startsWith('\n') ? inner.trimStart() : inner.trimStart()}`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return ' {}';
    return keys
      .map((key) => {
        const child = value[key]!;
        const name = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? key : JSON.stringify(key);
        const inner = toYaml(child, `${indent}  `);
        return `\n${indent}${name}:${inner.startsWith('\n') ? inner : ` ${inner.trimStart()}`}`;
      })
      .join('');
  }
  return ` ${JSON.stringify(value)}`;
}

/** Text put in place of a variable instead of `{{ name }}` (the exported users' e-mail and password). */
type Inline = Record<string, string>;

/** Our `${name}` references as Artillery's `{{ name }}`, or as inline text. */
function template(text: string, inline: Inline): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
    (_m, name: string) => inline[name] ?? `{{ ${name} }}`,
  );
}

function templateJson(value: unknown, inline: Inline): Yaml {
  if (typeof value === 'string') return template(value, inline);
  if (Array.isArray(value)) return value.map((v) => templateJson(v, inline));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, templateJson(v, inline)]));
  return value as Yaml;
}

/** Every 2xx and 3xx status, for the expect plugin: a 4xx/5xx ends the iteration as a failure, as in headroom. */
const SUCCESS_STATUSES = [200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 307, 308];

function request(step: ExportStep, inline: Inline): Yaml {
  const spec: Record<string, Yaml> = { url: template(step.path, inline), name: step.name };
  if (step.headers)
    spec.headers = Object.fromEntries(Object.entries(step.headers).map(([k, v]) => [k, template(v, inline)]));
  if (step.json !== undefined) spec.json = templateJson(step.json, inline);
  const captures = Object.entries(step.capture ?? {});
  if (captures.length)
    spec.capture = captures.map(([as, path]) => ({ json: path.startsWith('$') ? path : `$.${path}`, as }));
  spec.expect = [{ statusCode: SUCCESS_STATUSES }];
  return { [step.method.toLowerCase()]: spec };
}

/**
 * An Artillery 2 script (YAML) for `plan`: the open phases as `arrivalRate`/`rampTo` phases,
 * `before` registering the setup users (or a payload of users made by the runner), the flow with
 * its captures, per-step metrics through metrics-by-endpoint, and `ensure` checks for the
 * thresholds Artillery can check (p95/p99/median/max latency, error rate).
 *
 * Artillery has no closed model (virtual users that loop for a time), so a closed load is refused.
 */
export function exportArtillery(plan: ExportPlan, opts: ArtilleryExportOptions = {}): string {
  const { scenario, load } = plan;
  if (load.model === 'closed')
    throw new UsageInvalidError(
      `the ${scenario.name} scenario's ${scenario.profile} profile is a closed load (${load.vus} VUs): Artillery has no closed model; export it to k6 or Locust, or use "headroom run ${scenario.name}"`,
    );
  const phases: Yaml[] = load.phases.map(
    (p): Yaml =>
      'rateRps' in p
        ? { duration: p.durationMs / 1000, arrivalRate: p.rateRps }
        : { duration: p.durationMs / 1000, arrivalRate: p.fromRps, rampTo: p.toRps },
  );
  const ensure: Record<string, Yaml> = {};
  const thresholds: Yaml[] = [];
  const comments: string[] = [];
  for (const { metric, list, kind, step } of plan.thresholds) {
    for (const t of list) {
      const upper = t.operator === '<' || t.operator === '<=';
      const aggregation =
        t.aggregation === 'p'
          ? (
              { 50: 'median', 75: 'p75', 90: 'p90', 95: 'p95', 99: 'p99', 99.9: 'p999' } as Record<
                number,
                string
              >
            )[t.percentile!]
          : ({ max: 'max', min: 'min', med: 'median', avg: 'mean' } as Record<string, string>)[t.aggregation];
      if (kind === 'latency' && upper && aggregation) {
        const name = step
          ? `${ARTILLERY_ENDPOINT_PREFIX}.response_time.${step}.${aggregation}`
          : `http.response_time.${aggregation}`;
        thresholds.push({ [name]: t.value });
      } else if (kind === 'errors' && !step && upper && t.aggregation === 'rate') {
        // Artillery's error rate is failed iterations (virtual users) in percent, not failed requests.
        ensure.maxErrorRate = t.value * 100;
        comments.push(
          `${metric} ${t.source}: as maxErrorRate ${t.value * 100} (% of virtual users that failed).`,
        );
      } else
        comments.push(
          `${metric} ${t.source}: not checked by Artillery; checked by "headroom run --driver artillery".`,
        );
    }
  }
  if (thresholds.length) ensure.thresholds = thresholds;

  const config: Record<string, Yaml> = {
    target: plan.target,
    phases,
    http: { timeout: 10 },
    plugins: {
      'metrics-by-endpoint': { useOnlyRequestNames: true },
      // A 4xx/5xx fails the virtual user and ends its iteration, as in headroom.
      expect: { outputFormat: 'silent', reportFailuresAsErrors: true, useOnlyRequestNames: true },
      // Under plugins, so that Artillery loads the ensure plugin that checks them.
      ...(Object.keys(ensure).length ? { ensure } : {}),
    },
  };
  const reads = new Set(plan.flow.flatMap(stepVariables));
  const usesUser = USER_VARIABLES.some((v) => reads.has(v));
  let before: Yaml | undefined;
  let inline: Inline = {};
  if (opts.usersCsv) {
    config.payload = {
      path: opts.usersCsv,
      fields: [...USER_VARIABLES],
      order: 'sequence',
      skipHeader: false,
    };
  } else if (usesUser) {
    // Each iteration logs in as a random setup user, by index (one password for all); the token
    // is the first user's, taken once in `before` (Artillery shares `before` captures with every user).
    inline = {
      email: exportUserEmail(`{{ $randomNumber(0, ${plan.users - 1}) }}`),
      password: EXPORT_USER_PASSWORD,
    };
    before = {
      flow: [
        {
          loop: [
            {
              post: {
                url: '/auth/register',
                json: { email: exportUserEmail('{{ $loopElement }}'), password: EXPORT_USER_PASSWORD },
              },
            },
          ],
          over: Array.from({ length: plan.users }, (_, i) => i),
        },
        {
          post: {
            url: '/auth/login',
            json: { email: exportUserEmail(0), password: EXPORT_USER_PASSWORD },
            capture: [{ json: '$.accessToken', as: 'token' }],
          },
        },
      ],
    };
  }
  const script: Record<string, Yaml> = { config };
  if (before) script.before = before;
  script.scenarios = [
    {
      name: scenario.name,
      flow: plan.flow.flatMap((s) => {
        const out: Yaml[] = [request(s, inline)];
        if (s.thinkMs) out.push({ think: s.thinkMs / 1000 });
        return out;
      }),
    },
  ];
  const header = [
    `# Artillery script for the headroom scenario "${scenario.name}" (profile ${scenario.profile}), written by "headroom export artillery".`,
    `# ${scenario.description}`,
    '#',
    `# Run:    artillery run --output report.json ${scenario.name}.artillery.yml   (Artillery 2.0.21 is the last for Node 20)`,
    '# Import: headroom import artillery report.json',
    '# Setup users: ' +
      (opts.usersCsv
        ? `read from ${opts.usersCsv} in order (iteration k is user k mod n).`
        : `${plan.users} registered in "before"; each virtual user logs in as a random one.`),
    ...plan.notes.map((n) => `# ${n}`),
    ...(comments.length ? ['#', '# Thresholds:', ...comments.map((c) => `#   ${c}`)] : []),
  ];
  return `${header.join('\n')}\n${toYaml(script).trimStart()}\n`;
}
