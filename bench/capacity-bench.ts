/**
 * npm run bench:capacity [-- --rows 50000 --sample-seconds 120 --combined-seconds 15
 *                            --worlds default,llm-rpm,slow-sites --out DIR]
 *
 * For each simulated world: takes a pipeline sample (at most 2 minutes), forecasts the time for R
 * rows with the capacity model, then processes R rows for real on the same host (the demo, same
 * simulator settings) and prints forecast, actual and the error (goal: within 10 %). The pipeline
 * and the simulators share this host's cores, in the sample as in the real run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { capacityFromSample } from '../analyzer/capacity-model.js';
import type { PipelineSample } from '../analyzer/pipeline-sample.js';
import { writePipelineSample } from '../analyzer/pipeline-sample-file.js';
import { renderSampleTable } from '../cli/pipeline-sample-table.js';
import { type DemoResult, runDemo } from '../pipeline/demo.js';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import { MAX_SAMPLE_SECONDS, samplePipeline } from '../scenarios/pipeline-sampler.js';

/** Worlds the forecast is checked in: each binds the pipeline in a different way. */
const WORLDS: Record<string, { what: string; simulators: SimulatorsOptions }> = {
  default: { what: 'default simulators (sites ~300 ms, LLM ~1.7 s): CPU-bound on 2 cores', simulators: {} },
  // 30,000 requests per minute = 500 rows/s, about a third of what this host does unlimited.
  'llm-rpm': {
    what: 'LLM rate limit 30,000 requests/min (500 rows/s): the provider limit binds',
    simulators: { llm: { rateLimit: { requestsPerMinute: 30_000 } } },
  },
  // 1,500 scrapers ÷ ~1.7 s mean per page ≈ 880 rows/s: concurrency (Little's law) binds.
  'slow-sites': {
    what: 'slow sites (lognormal median 1.5 s, sigma 0.5): scraper concurrency binds (Little)',
    simulators: { siteFarm: { latency: { medianMs: 1500, sigma: 0.5 } } },
  },
};

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '50000' },
    'sample-seconds': { type: 'string', default: '120' },
    'combined-seconds': { type: 'string', default: '15' },
    worlds: { type: 'string', default: Object.keys(WORLDS).join(',') },
    out: { type: 'string' },
  },
});
const rows = Number(values.rows);
const sampleSeconds = Number(values['sample-seconds']);
// A longer combined window than the sampler's default: the forecast rests on it, and on a shared
// host its rate moves with the other load; 15 s averages more of that out.
const combinedWindowS = Number(values['combined-seconds']);
if (!(Number.isInteger(rows) && rows >= 1000))
  throw new Error(`--rows must be an integer >= 1000 (got ${values.rows})`);
if (!(combinedWindowS >= 1 && combinedWindowS <= 60))
  throw new Error(`--combined-seconds must be between 1 and 60 (got ${values['combined-seconds']})`);
if (!(sampleSeconds >= 5 && sampleSeconds <= MAX_SAMPLE_SECONDS))
  throw new Error(
    `--sample-seconds must be between 5 and ${MAX_SAMPLE_SECONDS} (got ${values['sample-seconds']})`,
  );
const worlds = values.worlds.split(',').map((w) => w.trim());
for (const w of worlds)
  if (!WORLDS[w]) throw new Error(`unknown world "${w}": use ${Object.keys(WORLDS).join(', ')}`);

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const load = () => fmt(os.loadavg()[0]!, 1);

interface Outcome {
  world: string;
  forecastS: number;
  actualS: number;
  errorPct: number;
  bottleneck: string;
  sample: PipelineSample;
  demo: DemoResult;
}

console.log(
  `headroom bench:capacity on ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ` +
    `${fmt(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`,
);
console.log(
  'The pipeline and the simulators (site farm + LLM) share these cores, in the sample and in the real run.\n',
);

const outcomes: Outcome[] = [];
for (const world of worlds) {
  const { what, simulators } = WORLDS[world]!;
  console.log(`── ${world}: ${what}`);
  console.log(`  sampling (at most ${sampleSeconds} s; load average ${load()})…`);
  const sample = await samplePipeline({ simulators, sampleSeconds, combinedWindowS });
  console.log(renderSampleTable(sample).join('\n'));

  const report = capacityFromSample(sample, { rows, source: `${world} sample` });
  const forecastS = report.forecast.totalS;
  const bottleneck = `${report.forecast.bottleneck.kind}${report.forecast.bottleneck.stage ? ` (${report.forecast.bottleneck.stage})` : ''}`;
  console.log(
    `\n  forecast for ${fmt(rows)} rows: ${fmt(forecastS, 1)} s at ${fmt(report.forecast.rateRps, 1)} rows/s ` +
      `+ fill ${fmt(report.forecast.fillS.value, 1)} s; bottleneck ${bottleneck}`,
  );
  console.log(`    ${report.forecast.rateSource}`);
  for (const note of report.notes) console.log(`    note: ${note}`);

  console.log(`  processing ${fmt(rows)} rows for real (load average ${load()})…`);
  const demo = await runDemo({ rows, simulators, timeoutMs: Math.max(600_000, forecastS * 3000) });
  const actualS = demo.durationMs / 1000;
  const errorPct = ((forecastS - actualS) / actualS) * 100;
  console.log(
    `  actual: ${fmt(actualS, 1)} s (${fmt(demo.rowsPerSecond, 1)} rows/s); ${fmt(demo.messages)} messages, ` +
      `${fmt(demo.failed)} failed, ${fmt(demo.lost)} lost${demo.timedOut ? ', TIMED OUT' : ''}; ` +
      `scrape done at ${fmt(demo.stages.scrape.durationMs / 1000, 1)} s, AI at ${fmt(demo.stages.ai.durationMs / 1000, 1)} s; ` +
      `CPU ${fmt(demo.processes.pipeline.cpuMsPerRow * 1000)} + ${fmt(demo.processes.simulators.cpuMsPerRow * 1000)} µs/row`,
  );
  if (Object.keys(demo.failuresByReason).length)
    console.log(`  failures: ${JSON.stringify(demo.failuresByReason).slice(0, 300)}`);
  console.log(
    `  forecast ${fmt(forecastS, 1)} s vs actual ${fmt(actualS, 1)} s: error ${errorPct >= 0 ? '+' : ''}${fmt(errorPct, 1)} % ` +
      `(${Math.abs(errorPct) <= 10 ? 'within' : 'OUTSIDE'} the 10 % goal); load average now ${load()}\n`,
  );
  outcomes.push({ world, forecastS, actualS, errorPct, bottleneck, sample, demo });
  if (values.out) {
    await mkdir(values.out, { recursive: true });
    await writePipelineSample(path.join(values.out, `${world}.sample.json`), sample);
    await writeFile(
      path.join(values.out, `${world}.outcome.json`),
      `${JSON.stringify({ world, rows, forecastS, actualS, errorPct, bottleneck, report, demo }, null, 2)}\n`,
    );
  }
}

console.log(`Summary, ${fmt(rows)} rows (2 cores shared by pipeline and simulators):`);
console.log('  world        forecast s   actual s   error %   bottleneck');
for (const o of outcomes) {
  console.log(
    `  ${o.world.padEnd(11)} ${fmt(o.forecastS, 1).padStart(11)} ${fmt(o.actualS, 1).padStart(10)} ` +
      `${`${o.errorPct >= 0 ? '+' : ''}${fmt(o.errorPct, 1)}`.padStart(9)}   ${o.bottleneck}`,
  );
}
