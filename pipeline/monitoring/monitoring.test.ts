import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { generateCsv } from '../ingest/csv-generator.js';
import { startPipeline } from '../pipeline.js';
import { startSimulators } from '../sim/simulator-process.js';
import { loggedInClient, waitCompleted } from '../test-support/pipeline-test-kit.js';
import { simPipelineConfig } from '../test-support/quick-config.js';
import { freshPostgres } from '../test-support/test-services.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const rulesFile = path.join(here, 'alert-rules.yml');
const rulesTestFile = path.join(here, 'alert-rules.test.yml');
const dashboard = JSON.parse(readFileSync(path.join(here, 'grafana-dashboard.json'), 'utf8')) as {
  panels: Array<{ type: string; title: string; targets?: Array<{ refId: string; expr: string }> }>;
};

/** Runs promtool; a missing promtool is a failure that says how to install it, never a skip. */
function promtool(...args: string[]): { status: number; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error('promtool is not installed: apt-get install -y --no-install-recommends prometheus');
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

/** The expressions of the rules file (kept one per line there, so no YAML parser is needed). */
function ruleExpressions(): string[] {
  return [...readFileSync(rulesFile, 'utf8').matchAll(/^\s*expr:\s*(.+)$/gm)].map((m) => m[1]!.trim());
}

/** Names of the recording rules of the rules file: series Prometheus makes, not the pipeline. */
function recordedNames(): string[] {
  return [...readFileSync(rulesFile, 'utf8').matchAll(/^\s*-\s*record:\s*(\S+)$/gm)].map((m) => m[1]!);
}

const dashboardExpressions = () => dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression reads: identifiers that are not functions, keywords or labels. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.])[a-zA-Z_:][\w:]*/g)) {
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    if (/^\s*\(/.test(bare.slice(m.index + m[0].length))) continue;
    names.push(m[0]);
  }
  return names;
}

/** Series names a Prometheus exposition offers: sample lines, and families declared by # TYPE. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      names.add(type[1]!);
      if (type[2] === 'histogram' || type[2] === 'summary')
        for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${type[1]}${suffix}`);
    } else if (line && !line.startsWith('#')) {
      names.add(/^[^{\s]+/.exec(line)![0]);
    }
  }
  return names;
}

describe('Prometheus rules and Grafana dashboard of the pipeline', () => {
  it('has alerting rules that promtool accepts', () => {
    const check = promtool('check', 'rules', rulesFile);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });

  it('fires and clears every alert in the promtool unit tests', () => {
    const alerts = [...readFileSync(rulesFile, 'utf8').matchAll(/^\s*-\s*alert:\s*(\S+)$/gm)].map(
      (m) => m[1]!,
    );
    const tests = readFileSync(rulesTestFile, 'utf8');
    for (const alert of alerts) expect(tests, alert).toContain(`alertname: ${alert}`);
    const run = promtool('test', 'rules', rulesTestFile);
    expect(run.output).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('has dashboard expressions that all parse as PromQL', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-dashboard-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const rules = dashboard.panels.flatMap((p, i) =>
      (p.targets ?? []).map(
        (t) => `      - record: dashboard:panel_${i}_${t.refId}\n        expr: ${JSON.stringify(t.expr)}`,
      ),
    );
    expect(rules.length).toBeGreaterThan(20);
    const file = path.join(dir, 'dashboard-rules.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
    const check = promtool('check', 'rules', file);
    expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`);
    // The same check refuses a broken expression, so passing it means something.
    writeFileSync(
      file,
      'groups:\n  - name: d\n    rules:\n      - record: x:y\n        expr: "sum(rate(x[5m])"\n',
    );
    expect(promtool('check', 'rules', file).status).not.toBe(0);
  });

  it('has the dashboard rows overview, latency, resources, errors and queues', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Overview', 'Latency', 'Resources', 'Errors', 'Queues']);
  });

  it('names only metrics the running pipeline exposes on /metrics', async () => {
    const sims = await startSimulators({
      siteFarm: { sites: 5, latency: { medianMs: 5, sigma: 0.1 } },
      llm: { timeToFirstTokenMs: 5, tokensPerSecond: 5_000 },
    });
    onTestFinished(() => sims.close());
    // PostgreSQL, so the pool metrics exist too (the SQLite store has no pool).
    const pg = await freshPostgres();
    onTestFinished(pg.drop);
    const pipeline = await startPipeline({ ...simPipelineConfig(sims), store: pg.url, http: { port: 0 } });
    onTestFinished(() => pipeline.close());
    const api = await loggedInClient(pipeline.apiUrl, 'monitoring@example.com');
    const receipt = await api.upload(generateCsv(20, (i) => sims.siteUrl(i)));
    await waitCompleted(api, receipt.id);
    const task = await api.createTask('sleep', 5);
    for (let i = 0; i < 100 && (await api.getTask(task.id)).status !== 'completed'; i++)
      await new Promise((r) => setTimeout(r, 50));
    await fetch(`${pipeline.apiUrl}/no-such-route`);

    const response = await fetch(`${pipeline.apiUrl}/metrics`);
    expect(response.status).toBe(200);
    const exposed = exposedNames(await response.text());
    // `up` is recorded by Prometheus for each scrape; recording rules are made by Prometheus too.
    const madeByPrometheus = new Set(['up', ...recordedNames()]);
    const used = new Set([...ruleExpressions(), ...dashboardExpressions()].flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used].filter((name) => !exposed.has(name) && !madeByPrometheus.has(name));
    expect(missing).toEqual([]);
    // The histograms the alerts read have samples, not only a declaration.
    for (const name of [
      'headroom_http_request_duration_seconds_bucket',
      'headroom_queue_wait_seconds_bucket',
    ])
      expect(exposed.has(name)).toBe(true);
  }, 120_000);
});
