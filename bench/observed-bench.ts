/**
 * npm run bench:observed [-- --seed 1 --worlds 4 --systems headroom,celery]
 *
 * Checks `capacity --prometheus --eta` on worlds drawn at random (seeded), on both systems it
 * reads: headroom's reference pipeline (PostgreSQL + BullMQ, API and two worker processes; read
 * with the headroom preset and with the bullmq preset, its rows left from the table) and the Celery
 * example (FastAPI + Celery on Redis + PostgreSQL, one worker per queue; the celery preset plus
 * the example's count of the LLM's answers, examples/celery-pipeline/headroom-mapping.json). Both
 * are scraped every second by a real Prometheus (Debian's). For each world and system: a run of N
 * rows, observed from a window of its first 35 %, then run to its end. Printed: the time left
 * forecast with its 90 % interval, the time the rest really took, the error, whether the actual
 * fell inside, and the bottleneck named against the one the settings impose; largest error last.
 *
 * Worlds come in a fixed rotation of kinds (scraping latency-bound at low concurrency, AI
 * latency-bound, the LLM provider's requests-per-minute limit, anything), each kind's parameters
 * drawn within the ranges below, the binding stage's rate between 6 and 40 rows/s so a run lasts
 * 60–120 s and stays within what two cores do. The window starts after the first seconds (the
 * processes open their connections) and lasts at least 20 s.
 *
 * The load generator, the simulators, the pipeline's processes and Prometheus share this host's
 * cores (the load average is printed next to each figure); a forecast from a window cannot see load
 * that arrives after it.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import type { Defer } from '../pipeline/test-support/worker-process.js';
import { loadTelemetryMapping } from '../telemetry/telemetry-mapping.js';
import {
  bullmqWithTableRows,
  CELERY_EXAMPLE_MAPPING,
  celeryRun,
  type ObservedRun,
  pipelineRun,
} from '../telemetry/test-support/observed-runs.js';
import { intLog, logUniform, uniform } from './seeded-draw.js';

const RANGES = {
  siteMedianMs: [50, 600],
  siteSigma: [0.2, 0.5],
  ttftMs: [100, 1_000],
  tokensPerSecond: [100, 1_000],
  tokensPerMessage: [40, 200],
  /** The binding stage's rate, rows/s. */
  rate: [6, 40],
  /** A stage that does not bind has this many times the slots it needs. */
  spare: [2.5, 4],
  runS: [60, 120],
} as const;
/** Slots of one stage, all processes together: Celery's prefork pool is a process per slot. */
const MAX_SLOTS = 48;
/** Bottlenecks this close (next ÷ first rate) are both named as expected. */
const CLOSE = 1.3;

type Kind = 'latency-scrape' | 'latency-ai' | 'llm-rpm' | 'any';
const ROTATION: Kind[] = ['latency-scrape', 'latency-ai', 'llm-rpm', 'any'];
type System = 'headroom' | 'celery';

interface World {
  name: string;
  sims: SimulatorsOptions;
  /** Slots per stage, all processes together. */
  slots: { scrape: number; ai: number };
  rows: number;
  /** The bottleneck(s) the settings impose: `stage scrape`, `stage ai`, `llm-rpm`. */
  expected: string[];
  what: string;
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    worlds: { type: 'string', default: String(ROTATION.length) },
    systems: { type: 'string', default: 'headroom,celery' },
  },
});
const seed = Number(values.seed);
const worldCount = Number(values.worlds);
const systems = String(values.systems).split(',') as System[];
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer (got ${values.seed})`);
if (!(Number.isInteger(worldCount) && worldCount >= 1 && worldCount <= 40))
  throw new Error(`--worlds must be an integer from 1 to 40 (got ${values.worlds})`);
for (const s of systems)
  if (s !== 'headroom' && s !== 'celery') throw new Error(`--systems: headroom and/or celery (got ${s})`);

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const loadavg = () => fmt(os.loadavg()[0]!, 2);

/** Mean seconds a page takes (lognormal, plus the scraper's own work) and an AI call. */
const scrapeS = (s: SimulatorsOptions) =>
  (s.siteFarm!.latency!.medianMs * Math.exp(s.siteFarm!.latency!.sigma ** 2 / 2)) / 1000 + 0.005;
const aiS = (s: SimulatorsOptions) =>
  s.llm!.timeToFirstTokenMs! / 1000 + s.llm!.tokensPerMessage! / s.llm!.tokensPerSecond!;

function drawWorld(r: SeededRandom, kind: Kind, index: number): World {
  const sims: SimulatorsOptions = {
    siteFarm: {
      seed: seed * 100 + index,
      sites: 500,
      latency: {
        medianMs: Math.round(logUniform(r, RANGES.siteMedianMs)),
        sigma: uniform(r, RANGES.siteSigma),
      },
    },
    llm: {
      seed: seed * 100 + index,
      timeToFirstTokenMs: Math.round(logUniform(r, RANGES.ttftMs)),
      tokensPerSecond: Math.round(logUniform(r, RANGES.tokensPerSecond)),
      tokensPerMessage: intLog(r, RANGES.tokensPerMessage),
    },
  };
  const rate = logUniform(r, RANGES.rate);
  // Slots for a stage to run at `rows/s`: Little's law, at least 2 (one per worker process).
  const slotsFor = (rowsPerS: number, seconds: number) =>
    Math.min(MAX_SLOTS, Math.max(2, Math.round(rowsPerS * seconds)));
  const spare = () => uniform(r, RANGES.spare);
  let slots: World['slots'];
  if (kind === 'latency-scrape')
    slots = { scrape: slotsFor(rate, scrapeS(sims)), ai: slotsFor(rate * spare(), aiS(sims)) };
  else if (kind === 'latency-ai')
    slots = { scrape: slotsFor(rate * spare(), scrapeS(sims)), ai: slotsFor(rate, aiS(sims)) };
  else if (kind === 'llm-rpm') {
    slots = { scrape: slotsFor(rate * spare(), scrapeS(sims)), ai: slotsFor(rate * spare(), aiS(sims)) };
    // Enforced per second, as providers say they may: the limit binds from the first seconds.
    sims.llm!.rateLimit = { requestsPerMinute: Math.round(rate * 60), windowSeconds: 1 };
  } else {
    // Any stage may bind: each at 0.7–3 × the rate; a limit on or off, binding or not.
    slots = {
      scrape: slotsFor(rate * uniform(r, [0.7, 3]), scrapeS(sims)),
      ai: slotsFor(rate * uniform(r, [0.7, 3]), aiS(sims)),
    };
    if (r.next() < 0.5)
      sims.llm!.rateLimit = {
        requestsPerMinute: Math.round(rate * uniform(r, [0.7, 3]) * 60),
        windowSeconds: 1,
      };
  }
  // Two worker processes of the reference pipeline share the slots evenly.
  slots = { scrape: 2 * Math.ceil(slots.scrape / 2), ai: 2 * Math.ceil(slots.ai / 2) };
  const rates: Array<[string, number]> = [
    ['stage scrape', slots.scrape / scrapeS(sims)],
    ['stage ai', slots.ai / aiS(sims)],
  ];
  const rpm = sims.llm!.rateLimit?.requestsPerMinute;
  if (rpm) rates.push(['llm-rpm', rpm / 60]);
  rates.sort((a, b) => a[1] - b[1]);
  const bound = rates[0]![1];
  const expected = rates.filter(([, v]) => v <= bound * CLOSE).map(([k]) => k);
  const rows = Math.max(300, Math.round(bound * uniform(r, RANGES.runS)));
  const l = sims.llm!;
  const f = sims.siteFarm!.latency!;
  const what =
    `sites ${fmt(f.medianMs)} ms σ ${fmt(f.sigma, 2)}; LLM ${fmt(l.timeToFirstTokenMs!)} ms + ${fmt(l.tokensPerMessage!)} tokens at ${fmt(l.tokensPerSecond!)}/s` +
    `${rpm ? `, ${fmt(rpm)} rpm` : ''}; slots scrape ${slots.scrape} / AI ${slots.ai}; ${fmt(rows)} rows; ` +
    `bounds ${rates.map(([k, v]) => `${k} ${fmt(v, 1)}/s`).join(', ')}`;
  return { name: `w${index + 1}-${kind}`, sims, slots, rows, expected, what };
}

interface Line {
  world: string;
  reader: string;
  etaS: number;
  lowS: number;
  highS: number;
  actualS: number;
  error: number;
  inside: boolean;
  expected: string[];
  named: string;
  load: string;
}

/** A run with its stops unwound at the end, whatever happens. */
async function withStops<T>(run: (defer: Defer) => Promise<T>): Promise<T> {
  const stops: Array<() => void | Promise<void>> = [];
  try {
    return await run((stop) => stops.push(stop));
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {});
  }
}

function linesOf(world: World, run: ObservedRun): Line[] {
  return Object.entries(run.readings).map(([reader, { eta, report }]) => {
    const b = report.forecast.bottleneck;
    return {
      world: world.name,
      reader,
      etaS: eta.remainingS,
      lowS: eta.lowS,
      highS: eta.highS,
      actualS: run.actualS,
      error: eta.remainingS / run.actualS - 1,
      inside: run.actualS >= eta.lowS && run.actualS <= eta.highS,
      expected: world.expected,
      named: b.kind === 'stage' ? `stage ${b.stage}` : b.kind,
      load: loadavg(),
    };
  });
}

async function main(): Promise<void> {
  const random = new SeededRandom(seed);
  const worlds = Array.from({ length: worldCount }, (_, i) =>
    drawWorld(random, ROTATION[i % ROTATION.length]!, i),
  );
  console.log(
    `bench:observed — seed ${seed}, ${worlds.length} worlds, systems ${systems.join(', ')}; ${os.cpus().length} cores shared by load, simulators, pipeline and Prometheus`,
  );
  const lines: Line[] = [];
  for (const world of worlds) {
    console.log(`\n${world.name}: ${world.what}; expected bottleneck ${world.expected.join(' or ')}`);
    for (const system of systems) {
      const started = Date.now();
      try {
        const run = await withStops(async (defer) =>
          system === 'headroom'
            ? pipelineRun(
                {
                  rows: world.rows,
                  concurrency: { scraping: world.slots.scrape / 2, ai_processing: world.slots.ai / 2 },
                  sims: world.sims,
                  observeAtShare: 0.35,
                  minElapsedS: 26,
                  warmupS: 6,
                  presets: ['headroom', bullmqWithTableRows()],
                },
                defer,
              )
            : celeryRun(
                {
                  rows: world.rows,
                  slots: world.slots,
                  sims: world.sims,
                  observeAtShare: 0.35,
                  minElapsedS: 30,
                  warmupS: 10,
                  presets: [await loadTelemetryMapping({ file: CELERY_EXAMPLE_MAPPING })],
                },
                defer,
              ),
        );
        for (const line of linesOf(world, run)) {
          lines.push(line);
          console.log(`  ${row(line)}`);
        }
      } catch (err) {
        console.log(
          `  ${system}: failed after ${fmt((Date.now() - started) / 1000)} s: ${(err as Error).message.slice(0, 600)}`,
        );
      }
    }
  }
  lines.sort((a, b) => Math.abs(a.error) - Math.abs(b.error));
  console.log(
    '\n| world | read with | time left: forecast (90 % interval) | actual | error | inside | bottleneck expected | named | load |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const l of lines)
    console.log(
      `| ${l.world} | ${l.reader} | ${fmt(l.etaS, 1)} s (${fmt(l.lowS, 1)}–${fmt(l.highS, 1)}) | ${fmt(l.actualS, 1)} s | ${pct(l.error)} | ${l.inside ? 'yes' : 'no'} | ${l.expected.join(' or ')} | ${l.named}${l.expected.includes(l.named) ? '' : ' ✗'} | ${l.load} |`,
    );
  for (const reader of [...new Set(lines.map((l) => l.reader))]) {
    const own = lines.filter((l) => l.reader === reader);
    const worst = own.at(-1)!;
    console.log(
      `${reader}: ${own.filter((l) => Math.abs(l.error) <= 0.1).length} of ${own.length} within 10 %, ${own.filter((l) => l.inside).length} inside the interval, bottleneck as expected in ${own.filter((l) => l.expected.includes(l.named)).length}; worst ${pct(worst.error)} (${worst.world})`,
    );
  }
}

const pct = (x: number) => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x) * 100, 1)} %`;
const row = (l: Line) =>
  `${l.reader}: time left ${fmt(l.etaS, 1)} s (${fmt(l.lowS, 1)}–${fmt(l.highS, 1)}), actual ${fmt(l.actualS, 1)} s, ${pct(l.error)}; bottleneck ${l.named} (expected ${l.expected.join(' or ')}); load ${l.load}`;

await main();
// The Prometheus, Celery and pipeline handles are closed; anything left (an ioredis reconnect timer) must not hold the bench.
process.exit(0);
