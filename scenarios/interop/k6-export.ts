import type { LoadPhase } from '../arrival-schedule.js';
import type { Threshold } from '../threshold.js';
import {
  EXPORT_USER_PASSWORD,
  type ExportPlan,
  type ExportStep,
  exportUserEmail,
  peakRateRps,
  seconds,
} from './export-plan.js';

/** A threshold as its text in k6's grammar (ours is k6's, so only `rps` needs a translation). */
function k6Expression(t: Threshold): string {
  const aggregation = t.aggregation === 'p' ? `p(${t.percentile})` : t.aggregation;
  return `${aggregation}${t.operator}${t.value}`;
}

const TREND_AGGREGATIONS = new Set(['avg', 'min', 'max', 'med', 'p']);

/**
 * k6 thresholds from ours, with a comment for each one k6 cannot check. Our `latency` is k6's
 * `http_req_duration`, per step through the `step` tag; `errors` is `http_req_failed`; `rps>N`
 * becomes `http_reqs: ['rate>N']` (k6 has no rps: a Counter's rate is per second over the test).
 * Load requests carry the tag `phase:load`, so the setup's registrations and logins stay out.
 */
function k6Thresholds(plan: ExportPlan): { entries: Map<string, string[]>; comments: string[] } {
  const entries = new Map<string, string[]>();
  const comments: string[] = [];
  const add = (key: string, expression: string) =>
    entries.set(key, [...(entries.get(key) ?? []), expression]);
  for (const { metric, list, kind, step } of plan.thresholds) {
    const filter = step ? `{step:${step}}` : '{phase:load}';
    for (const t of list) {
      if (kind === 'latency' && TREND_AGGREGATIONS.has(t.aggregation))
        add(`http_req_duration${filter}`, k6Expression(t));
      else if (kind === 'errors' && t.aggregation === 'rate')
        add(`http_req_failed${filter}`, k6Expression(t));
      else if (kind === 'requests' && (t.aggregation === 'rps' || t.aggregation === 'count')) {
        if (t.aggregation === 'rps')
          comments.push(
            `${metric} ${t.source}: k6 has no rps threshold; http_reqs' rate is requests per second.`,
          );
        add(
          `http_reqs${filter}`,
          k6Expression({ ...t, aggregation: t.aggregation === 'rps' ? 'rate' : 'count' }),
        );
      } else
        comments.push(
          `${metric} ${t.source}: not measured by k6; checked by "headroom run ${plan.scenario.name}".`,
        );
    }
  }
  return { entries, comments };
}

/** A multiplier that makes every rate a whole number per time unit (k6 takes integer rates). */
function rateUnit(phases: LoadPhase[]): number {
  const rates = phases.flatMap((p) => ('rateRps' in p ? [p.rateRps] : [p.fromRps, p.toRps]));
  for (const unit of [1, 10, 100, 1000]) if (rates.every((r) => Number.isInteger(r * unit))) return unit;
  return 1000;
}

function k6Scenario(plan: ExportPlan): Record<string, unknown> {
  const load = plan.load;
  if (load.model === 'closed')
    return { executor: 'constant-vus', vus: load.vus, duration: seconds(load.durationMs) };
  const unit = rateUnit(load.phases);
  const per = (rps: number) => Math.round(rps * unit);
  // Enough VUs for the peak rate with iterations of up to one second, and room for slow ones.
  const peak = peakRateRps(load);
  const vus = {
    preAllocatedVUs: Math.max(10, Math.ceil(peak)),
    maxVUs: load.maxInFlight ?? Math.max(100, Math.ceil(peak * 10)),
  };
  const only = load.phases[0]!;
  if (load.phases.length === 1 && 'rateRps' in only)
    return {
      executor: 'constant-arrival-rate',
      rate: per(only.rateRps),
      timeUnit: `${unit}s`,
      duration: seconds(only.durationMs),
      ...vus,
    };
  const stages: Array<{ duration: string; target: number }> = [];
  const startRate = 'rateRps' in only ? only.rateRps : only.fromRps;
  let current = startRate;
  for (const p of load.phases) {
    const [from, to] = 'rateRps' in p ? [p.rateRps, p.rateRps] : [p.fromRps, p.toRps];
    // A phase that starts at another rate than the last one ended at: a jump, i.e. a 0 s stage.
    if (from !== current) stages.push({ duration: '0s', target: per(from) });
    stages.push({ duration: seconds(p.durationMs), target: per(to) });
    current = to;
  }
  return {
    executor: 'ramping-arrival-rate',
    startRate: per(startRate),
    timeUnit: `${unit}s`,
    stages,
    ...vus,
  };
}

const q = (value: unknown) => JSON.stringify(value);

function stepCode(step: ExportStep, last: boolean): string {
  const lines: string[] = [];
  const headers = { ...step.headers };
  if (step.json !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  const headerCode = Object.entries(headers)
    .map(([name, value]) => `${q(name)}: fill(${q(value)}, vars)`)
    .join(', ');
  const body = step.json === undefined ? 'null' : `fill(${q(JSON.stringify(step.json))}, vars, inJson)`;
  lines.push(`  // ${step.name}: ${step.method} ${step.path}`);
  lines.push(
    `  res = http.request(${q(step.method)}, API + fill(${q(step.path)}, vars, encodeURIComponent), ${body}, {`,
  );
  lines.push(`    headers: { ${headerCode} },`);
  lines.push(`    tags: { step: ${q(step.name)}, phase: 'load' },`);
  lines.push('  });');
  lines.push(
    `  if (!check(res, { ${q(`${step.name}: status 2xx or 3xx`)}: (r) => succeeded(r.status) })) return;`,
  );
  if (Object.keys(step.captureKeys).length) {
    lines.push('  body = parseJson(res.body);');
    for (const [name, keys] of Object.entries(step.captureKeys)) {
      lines.push(`  captured = readPath(body, ${q(keys)});`);
      lines.push(
        `  if (!check(captured, { ${q(`${step.name}: captures ${name}`)}: (v) => v !== undefined && v !== null })) return;`,
      );
      lines.push(`  vars[${q(name)}] = typeof captured === 'string' ? captured : JSON.stringify(captured);`);
    }
  }
  if (step.thinkMs && !last) lines.push(`  sleep(${step.thinkMs / 1000});`);
  else if (step.thinkMs) lines.push(`  sleep(${step.thinkMs / 1000}); // before the next iteration`);
  return lines.join('\n');
}

/**
 * A k6 script in TypeScript (type-checks against @types/k6) that runs `plan` as k6 would: the
 * open phases as arrival-rate executors, a closed load as constant VUs, `setup()` registering
 * and logging in the setup users (or reading them from `HEADROOM_USERS_FILE`, a JSON array of
 * `{email, password, token}`), one check per step, captures carried to later steps, and the
 * scenario's thresholds in k6's syntax.
 */
export function exportK6(plan: ExportPlan): string {
  const { scenario } = plan;
  const { entries, comments } = k6Thresholds(plan);
  const thresholdLines = [...entries].map(([key, list]) => `    ${q(key)}: ${q(list)},`);
  const hasCaptures = plan.flow.some((s) => Object.keys(s.captureKeys).length > 0);
  const hasThink = plan.flow.some((s) => s.thinkMs);
  const header = [
    `// k6 script for the headroom scenario "${scenario.name}" (profile ${scenario.profile}), written by "headroom export k6".`,
    `// ${scenario.description}`,
    '//',
    `// Run:   k6 run --summary-export summary.json ${scenario.name}.k6.ts   (k6 ≥ 0.57 runs TypeScript)`,
    `// Target: ${plan.target} (override with -e HEADROOM_TARGET=URL).`,
    `// Setup: ${plan.users} user(s) registered and logged in by setup(); iteration k acts as user k mod ${plan.users}.`,
    '// Import the summary into headroom: headroom import k6 summary.json',
    ...plan.notes.map((n) => `// ${n}`),
    ...(comments.length
      ? ['//', '// Thresholds not expressed in k6:', ...comments.map((c) => `//   ${c}`)]
      : []),
  ];
  return `${header.join('\n')}
import { check, fail${hasThink ? ', sleep' : ''} } from 'k6';
import exec from 'k6/execution';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import type { Options } from 'k6/options';

interface User {
  email: string;
  password: string;
  token: string;
}
interface SetupData {
  users: User[];
}
type Vars = Record<string, string>;

const API = __ENV.HEADROOM_TARGET || ${q(plan.target)};
const USERS = ${plan.users};
// open() works only in the init context, so users handed over by a runner are read here.
const presetUsers: User[] | null = __ENV.HEADROOM_USERS_FILE
  ? (JSON.parse(open(__ENV.HEADROOM_USERS_FILE)) as User[])
  : null;

export const options: Options = {
  scenarios: {
    ${q(scenario.name)}: ${JSON.stringify(k6Scenario(plan), null, 2).replace(/\n/g, '\n    ')},
  },
  thresholds: {
${thresholdLines.join('\n')}
  },
  setupTimeout: ${q(seconds(Math.max(60_000, plan.users * 500)))},
};

/** Fills \`\${name}\` references; path values are URL-encoded, JSON body values escaped. */
function fill(text: string, vars: Vars, escape: (value: string) => string = (value) => value): string {
  return text.replace(/\\$\\{([A-Za-z_][A-Za-z0-9_]*)\\}/g, (_match, name: string) => escape(vars[name] ?? ''));
}
const inJson = (value: string): string => JSON.stringify(value).slice(1, -1);
const succeeded = (status: number): boolean => status >= 200 && status < 400;
${
  hasCaptures
    ? `
function parseJson(body: RefinedResponse<ResponseType | undefined>['body']): unknown {
  try {
    return typeof body === 'string' ? JSON.parse(body) : undefined;
  } catch {
    return undefined;
  }
}

function readPath(value: unknown, keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
`
    : ''
}
export function setup(): SetupData {
  if (presetUsers) return { users: presetUsers };
  const users: User[] = [];
  const params = { headers: { 'content-type': 'application/json' }, tags: { phase: 'setup' } };
  for (let i = 0; i < USERS; i++) {
    const email = ${q(exportUserEmail('${i}')).replace(/^"|"$/g, '`')};
    const password = ${q(EXPORT_USER_PASSWORD)};
    // 201, or 409 when an earlier run registered the user already: both are fine.
    http.post(\`\${API}/auth/register\`, JSON.stringify({ email, password }), params);
    const login = http.post(\`\${API}/auth/login\`, JSON.stringify({ email, password }), params);
    if (login.status !== 200) fail(\`setup: login of \${email} answered \${login.status}\`);
    users.push({ email, password, token: String(login.json('accessToken')) });
  }
  return { users };
}

export default function (data: SetupData): void {
  const user = data.users[exec.scenario.iterationInTest % data.users.length] as User;
  const vars: Vars = { email: user.email, password: user.password, token: user.token };
  let res: RefinedResponse<ResponseType | undefined>;
${hasCaptures ? '  let body: unknown;\n  let captured: unknown;\n' : ''}${plan.flow.map((s, i) => stepCode(s, i === plan.flow.length - 1)).join('\n')}
}
`;
}
