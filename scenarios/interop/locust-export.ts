import {
  EXPORT_USER_PASSWORD,
  type ExportPlan,
  type ExportStep,
  exportUserEmail,
  seconds,
} from './export-plan.js';

/**
 * Iterations per second each Locust user aims at in an open load: users = ⌈rate ÷ this⌉. A user
 * runs one iteration at a time, so each iteration may take up to 1 ÷ this seconds before the
 * users fall behind the rate (Locust's model is closed: a slow target slows the load).
 */
export const LOCUST_ITERATIONS_PER_USER_PER_S = 2;

/** A Python string literal (JSON's escapes are Python's for these characters). */
const py = (value: string) => JSON.stringify(value);

function pythonValue(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return py(value);
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonValue).join(', ')}]`;
  return `{${Object.entries(value as object)
    .map(([k, v]) => `${py(k)}: ${pythonValue(v)}`)
    .join(', ')}}`;
}

function stepCode(step: ExportStep): string {
  const headers = { ...step.headers };
  if (step.json !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  const headerCode = Object.entries(headers)
    .map(([name, value]) => `${py(name)}: fill(${py(value)}, vars)`)
    .join(', ');
  const body = step.json === undefined ? 'None' : `fill(${py(JSON.stringify(step.json))}, vars, in_json)`;
  const lines = [
    `        # ${step.name}: ${step.method} ${step.path}`,
    `        with self.client.request(${py(step.method)}, fill(${py(step.path)}, vars, quote_path), name=${py(step.name)},`,
    `                                 headers={${headerCode}}, data=${body}, catch_response=True) as res:`,
    '            if not 200 <= res.status_code < 400:',
    '                res.failure(f"status {res.status_code}")',
    '                return',
  ];
  const captures = Object.entries(step.captureKeys);
  if (captures.length) {
    lines.push(
      '            try:',
      '                body = res.json()',
      '            except ValueError:',
      '                body = None',
    );
    for (const [name, keys] of captures) {
      lines.push(
        `            value = read_path(body, ${pythonValue(keys)})`,
        '            if value is None:',
        `                res.failure(${py(`capture ${name} (${step.capture![name]}) not in the response`)})`,
        '                return',
        `            vars[${py(name)}] = value if isinstance(value, str) else json.dumps(value)`,
      );
    }
  }
  lines.push('            res.success()');
  if (step.thinkMs) lines.push(`        time.sleep(${step.thinkMs / 1000})`);
  return lines.join('\n');
}

/**
 * A locustfile for `plan`: an HttpUser whose one task runs the flow in order with its captures,
 * setup users registered at test start (or read from `HEADROOM_USERS_FILE`, a JSON array of
 * `{email, password, token}`), a LoadTestShape for the phases, and the thresholds checked when
 * Locust quits (exit code 1 when one fails).
 *
 * Locust is closed-model: a user runs iterations one after another. An arrival rate is
 * approximated with ⌈rate ÷ 2⌉ users each pacing itself to rate ÷ users iterations per second
 * (the header of the file says so).
 */
export function exportLocust(plan: ExportPlan): string {
  const { scenario, load } = plan;
  const open = load.model === 'open';
  const phases = open
    ? load.phases.map((p) =>
        'rateRps' in p
          ? [p.durationMs / 1000, p.rateRps, p.rateRps]
          : [p.durationMs / 1000, p.fromRps, p.toRps],
      )
    : [];
  const thresholds = plan.thresholds.flatMap(({ metric, list, kind, step }) =>
    list.map((t) => ({
      metric,
      source: t.source,
      kind,
      step: step ?? null,
      aggregation: t.aggregation,
      percentile: t.percentile ?? null,
      operator: t.operator,
      value: t.value,
    })),
  );
  const model = open
    ? [
        `# Load: Locust is closed-model (each user runs one iteration after another), so the arrival`,
        `# rate is approximated: at rate R (iterations/s) the shape runs ceil(R / ${LOCUST_ITERATIONS_PER_USER_PER_S}) users, each pacing`,
        `# itself to R / users iterations/s (like constant_throughput). An iteration slower than users / R`,
        '# seconds makes its user fall behind: the load then drops instead of queueing (no coordinated-',
        '# omission correction), and the request rate in the CSV shows it.',
      ]
    : [`# Load: ${load.vus} users, each running iterations back to back, for ${seconds(load.durationMs)}.`];
  return `# locustfile for the headroom scenario "${scenario.name}" (profile ${scenario.profile}), written by "headroom export locust".
# ${scenario.description}
#
# Run:    locust -f ${scenario.name}.locustfile.py --headless --csv ${scenario.name} --only-summary -H ${plan.target}
# Import: headroom import locust ${scenario.name}_stats.csv   (reads ${scenario.name}_stats_history.csv beside it)
# Setup:  ${plan.users} user(s) registered and logged in at test start; iteration k acts as user k mod ${plan.users}.
${model.join('\n')}
${plan.notes.map((n) => `# ${n}`).join('\n')}
import itertools
import json
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from locust import HttpUser, LoadTestShape, events, task

USERS = ${plan.users}
OPEN_MODEL = ${open ? 'True' : 'False'}
# (duration s, rate at start, rate at end) per phase, iterations per second.
PHASES = ${pythonValue(phases)}
ITERATIONS_PER_USER_PER_S = ${LOCUST_ITERATIONS_PER_USER_PER_S}
CLOSED_USERS = ${open ? 0 : load.vus}
CLOSED_DURATION_S = ${open ? 0 : load.durationMs / 1000}
THRESHOLDS = ${pythonValue(thresholds)}

setup_users = []
iteration_numbers = itertools.count()
VARIABLE = re.compile(r"\\$\\{([A-Za-z_][A-Za-z0-9_]*)\\}")


def fill(text, vars, escape=lambda value: value):
    """Fills \${name} references; path values are URL-encoded, JSON body values escaped."""
    return VARIABLE.sub(lambda m: escape(vars.get(m.group(1), "")), text)


def quote_path(value):
    return urllib.parse.quote(value, safe="")


def in_json(value):
    return json.dumps(value)[1:-1]


def read_path(value, keys):
    for key in keys:
        if isinstance(value, dict) and isinstance(key, str):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


@events.test_start.add_listener
def register_setup_users(environment, **_kwargs):
    """Registers and logs in the setup users before the load, or reads those a runner made."""
    setup_users.clear()
    users_file = os.environ.get("HEADROOM_USERS_FILE")
    if users_file:
        with open(users_file) as f:
            setup_users.extend(json.load(f))
    else:
        register_users(environment.host.rstrip("/"))
    # The phases count from the end of the setup, not from Locust's start.
    if environment.shape_class is not None:
        environment.shape_class.reset_time()


def register_users(base):
    for i in range(USERS):
        email, password = ${py(exportUserEmail('{}'))}.format(i), ${py(EXPORT_USER_PASSWORD)}
        post_json(base + "/auth/register", {"email": email, "password": password})  # 201, or 409 if it exists
        status, body = post_json(base + "/auth/login", {"email": email, "password": password})
        if status != 200:
            raise RuntimeError(f"setup: login of {email} answered {status}")
        setup_users.append({"email": email, "password": password, "token": body["accessToken"]})


def rate_at(run_time_s):
    """The arrival rate the phases ask for at this time, or None once they are over."""
    start = 0.0
    for duration, rate_from, rate_to in PHASES:
        if run_time_s < start + duration:
            return rate_from + (rate_to - rate_from) * (run_time_s - start) / duration
        start += duration
    return None


class FlowUser(HttpUser):
    def wait_time(self):
        if not OPEN_MODEL:
            return 0
        # Pace this user to rate / users iterations per second (constant_throughput with a moving target).
        rate = rate_at(self.environment.shape_class.get_run_time()) or 0
        users = max(self.environment.runner.user_count, 1)
        period = users / rate if rate > 0 else 1.0
        now = time.monotonic()
        last = getattr(self, "_last_start", now)
        self._last_start = max(now, last + period)
        return max(0.0, self._last_start - now)

    @task
    def flow(self):
        user = setup_users[next(iteration_numbers) % len(setup_users)]
        vars = {"email": user["email"], "password": user["password"], "token": user["token"]}
${plan.flow.map(stepCode).join('\n')}


class Phases(LoadTestShape):
    def tick(self):
        run_time = self.get_run_time()
        if not OPEN_MODEL:
            return (CLOSED_USERS, CLOSED_USERS) if run_time < CLOSED_DURATION_S else None
        rate = rate_at(run_time)
        if rate is None:
            return None
        users = max(1, math.ceil(rate / ITERATIONS_PER_USER_PER_S))
        return (users, max(users, 10))


def figure(entry, threshold):
    aggregation = threshold["aggregation"]
    if threshold["kind"] == "latency":
        if aggregation == "p":
            return entry.get_response_time_percentile(threshold["percentile"] / 100)
        return {"avg": entry.avg_response_time, "min": entry.min_response_time, "max": entry.max_response_time,
                "med": entry.median_response_time}.get(aggregation)
    if threshold["kind"] == "errors" and aggregation == "rate":
        return entry.fail_ratio
    if threshold["kind"] == "requests":
        return {"rps": entry.total_rps, "count": entry.num_requests}.get(aggregation)
    return None


COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
           ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@events.quitting.add_listener
def check_thresholds(environment, **_kwargs):
    """The scenario's thresholds on Locust's own figures; one that fails sets exit code 1."""
    failed = False
    for threshold in THRESHOLDS:
        stats = environment.stats
        if threshold["step"] is None:
            entry = stats.total
        else:
            entry = next((e for (name, _method), e in stats.entries.items() if name == threshold["step"]), None)
        actual = figure(entry, threshold) if entry is not None else None
        if actual is None:
            print(f"threshold {threshold['metric']} {threshold['source']}: not measured by Locust")
            continue
        passed = COMPARE[threshold["operator"]](actual, threshold["value"])
        failed = failed or not passed
        print(f"threshold {threshold['metric']} {threshold['source']}: {'pass' if passed else 'FAIL'} (measured {actual:.3f})")
    if failed:
        environment.process_exit_code = 1
`;
}
