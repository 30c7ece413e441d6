/**
 * npm run bench:capacity [-- --seed 1 --worlds 8 --only w2,w8 --sample-seconds 75 --host --host-only --host-rounds 3 --host-worlds default,w7 --out DIR]
 *
 * Checks capacity forecasts on worlds drawn at random (seeded) over wide ranges, not on worlds
 * chosen by hand. For each world: takes a pipeline sample, picks the rows so the real run lasts
 * 30–150 s (from the forecast), forecasts them with the capacity model, then processes them for real
 * with the demo (same simulators, same concurrency, run to completion) and prints forecast, actual,
 * error and whether the actual fell inside the forecast's interval, largest error last.
 *
 * Worlds are drawn in a fixed rotation of kinds (LLM requests/min limit, tokens/min limit, scraping
 * latency-bound at low concurrency, AI latency-bound at low concurrency, faulty sites, anything,
 * high concurrency), each kind's parameters at random within the ranges below; so every draw of 8
 * holds the cases a forecast has to get right, and no parameter is picked by hand.
 *
 * --only: of the worlds drawn, run these (by name, w1…wN); the others are drawn all the same, so
 * a world is the same world whether it runs alone or with the rest.
 *
 * --host: the host projection checked the same way. A sample on both cores projected onto a one-core
 * profile against a real run pinned to core 0 (`taskset -c 0`), and the reverse: a sample pinned to
 * one core projected onto a two-core profile against a real run on both. Each sample
 * (`headroom capacity`) and each real run (`headroom demo`) is a fresh process, as a user runs them.
 * --host-rounds rounds (default 3), the directions taking turns; judged on the median forecast
 * against the median actual, every round printed. --host-worlds: on which worlds (default: the
 * embedded defaults; drawn worlds by name, e.g. default,w7, run as `--sim-config` and concurrency flags).
 *
 * The pipeline and the simulators share this host's cores, in the sample as in the real run; other
 * work on the host changes rates between the two (the load average is printed next to each figure).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { capacityFromSample } from '../analyzer/capacity-model.js';
import type { CapacityReport } from '../analyzer/capacity-report.js';
import { medianOf as median } from '../analyzer/comparison.js';
import type { HostProfile } from '../analyzer/host-profile.js';
import type { PipelineSample } from '../analyzer/pipeline-sample.js';
import { readPipelineSampleFile, writePipelineSample } from '../analyzer/pipeline-sample-file.js';
import { type DemoResult, runDemo } from '../pipeline/demo.js';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import { MAX_SAMPLE_SECONDS, samplePipeline } from '../scenarios/pipeline-sampler.js';
import { intLog, logUniform, uniform } from './seeded-draw.js';

/** The ranges every world is drawn from. */
const RANGES = {
  siteMedianMs: [50, 3_000],
  siteSigma: [0.2, 1.0],
  pageKb: [5, 200],
  faultRate: [0, 0.1],
  ttftMs: [100, 2_000],
  tokensPerSecond: [10, 200],
  tokensPerMessage: [50, 500],
  concurrency: [8, 5_000],
} as const;
/**
 * An AI call longer than this cannot be sampled in two minutes (a window needs about three calls):
 * tokens per second are drawn again until the call fits. Said in the output.
 */
const MAX_AI_CALL_S = 10;
/** Real runs last this long (the forecast picks the rows); provider-limited ones longer, past their first minute. */
const RUN_S: Record<string, [number, number]> = { default: [35, 75], provider: [80, 140] };
/** Prompt tokens a message costs besides its completion (the scraped page, the instructions), roughly. */
const PROMPT_TOKENS_GUESS = 300;
/** "Low concurrency": the latency-bound worlds use at most this many slots in the stage that binds. */
const LOW_CONCURRENCY = 40;

type Kind = 'llm-rpm' | 'llm-tpm' | 'latency-scrape' | 'latency-ai' | 'faults' | 'any' | 'high-concurrency';
const ROTATION: Kind[] = [
  'llm-rpm',
  'llm-tpm',
  'latency-scrape',
  'latency-ai',
  'faults',
  'any',
  'high-concurrency',
  'any',
];

interface World {
  name: string;
  kind: Kind;
  simulators: SimulatorsOptions;
  concurrency: { scraping: number; ai_processing: number };
  what: string;
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    worlds: { type: 'string', default: String(ROTATION.length) },
    only: { type: 'string' },
    'sample-seconds': { type: 'string', default: '75' },
    host: { type: 'boolean', default: false },
    'host-only': { type: 'boolean', default: false },
    'host-rounds': { type: 'string', default: '3' },
    'host-worlds': { type: 'string', default: 'default' },
    out: { type: 'string' },
  },
});
const seed = Number(values.seed);
const worldCount = Number(values.worlds);
const sampleSeconds = Number(values['sample-seconds']);
const hostRounds = Number(values['host-rounds']);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer (got ${values.seed})`);
if (!(Number.isInteger(worldCount) && worldCount >= 0 && worldCount <= 100))
  throw new Error(`--worlds must be an integer from 0 to 100 (got ${values.worlds})`);
if (!(Number.isInteger(hostRounds) && hostRounds >= 1 && hostRounds <= 20))
  throw new Error(`--host-rounds must be an integer from 1 to 20 (got ${values['host-rounds']})`);
if (!(sampleSeconds >= 5 && sampleSeconds <= MAX_SAMPLE_SECONDS))
  throw new Error(
    `--sample-seconds must be between 5 and ${MAX_SAMPLE_SECONDS} (got ${values['sample-seconds']})`,
  );

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const loadavg = () => fmt(os.loadavg()[0]!, 2);
const signed = (pct: number) => `${pct >= 0 ? '+' : ''}${fmt(pct, 1)} %`;

/** Mean seconds a page takes (lognormal) and an AI call (first token + message at the token rate). */
const scrapeS = (s: SimulatorsOptions) =>
  (s.siteFarm!.latency!.medianMs * Math.exp(s.siteFarm!.latency!.sigma ** 2 / 2)) / 1000;
const aiS = (s: SimulatorsOptions) =>
  (s.llm!.timeToFirstTokenMs! + (s.llm!.tokensPerMessage! / s.llm!.tokensPerSecond!) * 1000) / 1000;

/** One world of kind `kind`, every parameter drawn at random within RANGES (and the kind's constraint). */
export function drawWorld(r: SeededRandom, kind: Kind, index: number): World {
  const faultRate =
    kind === 'faults'
      ? uniform(r, [0.03, RANGES.faultRate[1]])
      : uniform(r, RANGES.faultRate) * (r.next() < 0.5 ? 1 : 0);
  const perKind = faultRate / 5;
  const simulators: SimulatorsOptions = {
    siteFarm: {
      seed: index + 1,
      latency: {
        medianMs: Math.round(logUniform(r, RANGES.siteMedianMs)),
        sigma: uniform(r, RANGES.siteSigma),
      },
      pageBytes: { medianBytes: Math.round(logUniform(r, RANGES.pageKb) * 1024), sigma: 0.3 },
      ...(faultRate > 0
        ? {
            faults: {
              notFound: perKind,
              serverError: perKind,
              reset: perKind,
              timeout: perKind,
              slowBody: perKind,
            },
          }
        : {}),
    },
    llm: {
      timeToFirstTokenMs: Math.round(logUniform(r, RANGES.ttftMs)),
      tokensPerSecond: Math.round(logUniform(r, RANGES.tokensPerSecond)),
      tokensPerMessage: Math.round(logUniform(r, RANGES.tokensPerMessage)),
    },
  };
  for (let i = 0; i < 50 && aiS(simulators) > MAX_AI_CALL_S; i++)
    simulators.llm!.tokensPerSecond = Math.round(logUniform(r, RANGES.tokensPerSecond));
  if (aiS(simulators) > MAX_AI_CALL_S)
    simulators.llm!.tokensPerSecond = Math.ceil(
      simulators.llm!.tokensPerMessage! / (MAX_AI_CALL_S - simulators.llm!.timeToFirstTokenMs! / 1000),
    );
  let scraping = intLog(r, RANGES.concurrency);
  let ai = intLog(r, RANGES.concurrency);
  const clampN = (n: number) =>
    Math.max(RANGES.concurrency[0], Math.min(RANGES.concurrency[1], Math.ceil(n)));
  // What each stage would do alone, by Little's law; the host's CPU caps both near 1,000 rows/s.
  const rates = () => ({ scrape: scraping / scrapeS(simulators), ai: ai / aiS(simulators) });
  if (kind === 'latency-scrape') {
    scraping = intLog(r, [RANGES.concurrency[0], LOW_CONCURRENCY]);
    ai = clampN(3 * rates().scrape * aiS(simulators));
  } else if (kind === 'latency-ai') {
    ai = intLog(r, [RANGES.concurrency[0], LOW_CONCURRENCY]);
    scraping = clampN(3 * rates().ai * scrapeS(simulators));
  } else if (kind === 'high-concurrency') {
    scraping = intLog(r, [1_000, RANGES.concurrency[1]]);
    ai = intLog(r, [1_000, RANGES.concurrency[1]]);
  } else if (kind === 'llm-rpm' || kind === 'llm-tpm') {
    // The provider binds only below what the pipeline does without it: enough slots for ~200 rows/s
    // or more, then a limit at a quarter to two thirds of that.
    scraping = Math.max(scraping, clampN(200 * scrapeS(simulators)));
    ai = Math.max(ai, clampN(200 * aiS(simulators)));
  }
  const unlimited = Math.min(rates().scrape, rates().ai, 1_000);
  const share = uniform(r, [0.25, 0.66]);
  const tokens = simulators.llm!.tokensPerMessage! + PROMPT_TOKENS_GUESS;
  if (kind === 'llm-rpm')
    simulators.llm!.rateLimit = { requestsPerMinute: Math.round(unlimited * share * 60) };
  else if (kind === 'llm-tpm')
    simulators.llm!.rateLimit = { tokensPerMinute: Math.round(unlimited * share * 60 * tokens) };
  else if (kind === 'any' && r.next() < 0.5) {
    // A limit drawn at random, on or off, binding or not.
    const limit = unlimited * uniform(r, [0.3, 2]) * 60;
    simulators.llm!.rateLimit =
      r.next() < 0.5
        ? { requestsPerMinute: Math.round(limit) }
        : { tokensPerMinute: Math.round(limit * tokens) };
  }
  const l = simulators.llm!;
  const f = simulators.siteFarm!;
  const what =
    `sites ${fmt(f.latency!.medianMs)} ms σ ${fmt(f.latency!.sigma, 2)}, pages ${fmt(f.pageBytes!.medianBytes / 1024)} KB, ` +
    `faults ${fmt(faultRate * 100, 1)} %; LLM ${fmt(l.timeToFirstTokenMs!)} ms + ${fmt(l.tokensPerMessage!)} tokens at ${fmt(l.tokensPerSecond!)}/s` +
    `${l.rateLimit?.requestsPerMinute ? `, ${fmt(l.rateLimit.requestsPerMinute)} rpm` : ''}${l.rateLimit?.tokensPerMinute ? `, ${fmt(l.rateLimit.tokensPerMinute)} tpm` : ''}; ` +
    `concurrency scrape ${fmt(scraping)} / AI ${fmt(ai)}`;
  return {
    name: `w${index + 1}-${kind}`,
    kind,
    simulators,
    concurrency: { scraping, ai_processing: ai },
    what,
  };
}

/** Rows whose forecast lasts about `seconds` (the forecast is not linear in rows under a per-minute limit). */
function rowsFor(sample: PipelineSample, seconds: number): { rows: number; report: CapacityReport } {
  let rows = 1_000;
  let report = capacityFromSample(sample, { rows, source: 'sample' });
  for (let i = 0; i < 6; i++) {
    const flowS = Math.max(1, seconds - report.forecast.fillAndDrainS.value);
    const next = Math.max(
      20,
      Math.round((rows * flowS) / Math.max(1, report.forecast.totalS - report.forecast.fillAndDrainS.value)),
    );
    if (Math.abs(next - rows) / rows < 0.02) break;
    rows = next;
    report = capacityFromSample(sample, { rows, source: 'sample' });
  }
  return { rows, report };
}

interface Outcome {
  world: string;
  what: string;
  rows: number;
  forecastS: number;
  intervalS: [number, number] | null;
  actualS: number;
  errorPct: number;
  inside: boolean | null;
  bottleneck: string;
  regime: string;
  loadSample: string;
  loadRun: string;
  outside: string[];
  failed: number;
  timedOut: boolean;
}

const bottleneckOf = (r: CapacityReport) =>
  `${r.forecast.bottleneck.kind}${r.forecast.bottleneck.stage ? ` ${r.forecast.bottleneck.stage}` : ''}`;

async function checkWorld(world: World, random: SeededRandom): Promise<Outcome> {
  console.log(`── ${world.name}: ${world.what}`);
  const loadSample = loadavg();
  const sample = await samplePipeline({
    simulators: world.simulators,
    pipeline: { concurrency: world.concurrency },
    sampleSeconds,
  });
  const providerBound =
    world.kind === 'llm-rpm' ||
    world.kind === 'llm-tpm' ||
    capacityFromSample(sample, { rows: 10_000 }).forecast.bottleneck.regime === 'provider-limit';
  const targetS = uniform(random, RUN_S[providerBound ? 'provider' : 'default']!);
  const { rows, report } = rowsFor(sample, targetS);
  const f = report.forecast;
  const interval = f.interval ? ([f.interval.lowS, f.interval.highS] as [number, number]) : null;
  const outside = report.stages.filter((s) => s.measuredConcurrency?.outside).map((s) => s.stage);
  console.log(
    `  sample ${fmt(sample.durationMs / 1000, 0)} s (load ${loadSample}); combined window ${sample.combined ? `${fmt(sample.combined.windowS, 1)} s at ${fmt(sample.combined.throughputRps, 1)} rows/s` : 'NONE'}; ` +
      `tokens/message ${report.inputs.llm.tokensPerMessage === null ? 'n/a' : fmt(report.inputs.llm.tokensPerMessage)}` +
      `${outside.length ? `; configured concurrency outside the measured levels: ${outside.join(', ')}` : ''}`,
  );
  console.log(
    `  forecast ${fmt(rows)} rows: ${fmt(f.totalS, 1)} s${interval ? ` (90 % ${fmt(interval[0], 1)}…${fmt(interval[1], 1)} s)` : ''}, ` +
      `${fmt(f.rateRps, 1)} rows/s, bottleneck ${bottleneckOf(report)} (${f.bottleneck.regime})`,
  );
  const loadRun = loadavg();
  const demo: DemoResult = await runDemo({
    rows,
    simulators: world.simulators,
    pipeline: { concurrency: world.concurrency },
    // Run to completion: a bound far above the forecast, only so a hung run still ends.
    timeoutMs: Math.max(900_000, f.totalS * 10_000),
  });
  const actualS = demo.durationMs / 1000;
  const errorPct = ((f.totalS - actualS) / actualS) * 100;
  const inside = interval ? actualS >= interval[0] && actualS <= interval[1] : null;
  console.log(
    `  actual ${fmt(actualS, 1)} s (load ${loadRun} → ${loadavg()}); ${fmt(demo.messages)} messages, ${fmt(demo.failed)} failed, ` +
      `${fmt(demo.lost)} lost${demo.timedOut ? ', TIMED OUT' : ''}; error ${signed(errorPct)}` +
      `${inside === null ? '' : inside ? ', inside the interval' : ', outside the interval'}\n`,
  );
  if (values.out) {
    await mkdir(values.out, { recursive: true });
    await writePipelineSample(path.join(values.out, `${world.name}.sample.json`), sample);
    await writeFile(
      path.join(values.out, `${world.name}.outcome.json`),
      `${JSON.stringify({ world, rows, report, demo }, null, 2)}\n`,
    );
  }
  return {
    world: world.name,
    what: world.what,
    rows,
    forecastS: f.totalS,
    intervalS: interval,
    actualS,
    errorPct,
    inside,
    bottleneck: bottleneckOf(report),
    regime: f.bottleneck.regime,
    loadSample,
    loadRun,
    outside,
    failed: demo.failed,
    timedOut: demo.timedOut,
  };
}

const bin = path.resolve(import.meta.dirname, '../cli/bin.ts');
/**
 * `headroom <args> --json` in a fresh process, as a user runs it: pinned to core 0 with `taskset -c 0`
 * when `pinned`. The host check runs every sample and real run this way, so neither direction
 * carries what earlier worlds left in this process (its heap, its handles).
 */
function cli(args: string[], pinned: boolean): Promise<unknown> {
  const command = [process.execPath, '--import', 'tsx', bin, ...args, '--json'];
  const [file, ...argv] = pinned ? ['taskset', '-c', '0', ...command] : command;
  return new Promise((resolve, reject) => {
    execFile(file!, argv, { maxBuffer: 64 * 2 ** 20, timeout: 1_800_000 }, (err, stdout, stderr) => {
      const text = stdout.trim();
      try {
        resolve(JSON.parse(text.slice(text.lastIndexOf('\n{') + 1)));
      } catch {
        reject(
          new Error(
            `${pinned ? 'taskset -c 0 ' : ''}headroom ${args.join(' ')} failed: ${err?.message ?? ''}\n${stderr.slice(-2000)}`,
          ),
        );
      }
    });
  });
}

function profile(cores: number): HostProfile {
  return {
    kind: 'headroom.host-profile',
    version: 1,
    name: `this host on ${cores} core${cores === 1 ? '' : 's'}`,
    cores,
    memoryBytes: Math.floor(os.totalmem() / 2 ** 20) * 2 ** 20,
    colocatedSimulators: true,
  };
}

type Direction = '2→1' | '1→2';

/** A drawn world as `--sim-config` and concurrency flags, for `headroom capacity` and `demo`. */
async function worldFlags(world: World, dir: string): Promise<string[]> {
  const f = world.simulators.siteFarm!;
  const l = world.simulators.llm!;
  const config = {
    seed: f.seed,
    siteLatencyMs: f.latency!.medianMs,
    siteLatencySigma: f.latency!.sigma,
    pageBytes: f.pageBytes!.medianBytes,
    ...(f.faults
      ? {
          fault404: f.faults.notFound,
          fault500: f.faults.serverError,
          faultReset: f.faults.reset,
          faultTimeout: f.faults.timeout,
          faultSlowBody: f.faults.slowBody,
        }
      : {}),
    llmTtftMs: l.timeToFirstTokenMs,
    llmTokensPerSecond: l.tokensPerSecond,
    llmTokensPerMessage: l.tokensPerMessage,
    ...(l.rateLimit?.requestsPerMinute ? { llmRpm: l.rateLimit.requestsPerMinute } : {}),
    ...(l.rateLimit?.tokensPerMinute ? { llmTpm: l.rateLimit.tokensPerMinute } : {}),
  };
  const file = path.join(dir, 'sim-config.json');
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return [
    '--sim-config',
    file,
    '--scraping-concurrency',
    String(world.concurrency.scraping),
    '--ai-concurrency',
    String(world.concurrency.ai_processing),
  ];
}

/** One round of one direction: a sample, its projection for `rows`, and the real run. */
interface HostRound {
  forecastS: number;
  actualS: number;
  errorPct: number;
  load: string;
}

interface HostOutcome {
  /** The drawn world checked, or `default` (the embedded defaults). */
  world: string;
  check: string;
  rows: number;
  rounds: HostRound[];
  /** Median forecast against median actual: what the check is judged on. */
  forecastS: number;
  actualS: number;
  errorPct: number;
  /** Slowest ÷ fastest real run − 1: how much the host itself moved between rounds. */
  actualSpreadPct: number;
}

/**
 * One round of `direction`: sample on its `from` cores, project onto the other count, run for
 * real there. The first round picks the rows (a run of about `rowsTargetS` at the projected rate);
 * later rounds run the same rows, so their times compare.
 */
async function hostRound(
  world: World | undefined,
  direction: Direction,
  round: number,
  rowsTargetS: number,
  fixedRows: number | undefined,
): Promise<HostRound & { rows: number }> {
  // With --out the samples and profiles are kept there, one folder per world, direction and round.
  const dir = values.out
    ? path.join(
        values.out,
        `host-${world ? `${world.name}-` : ''}${direction === '2→1' ? '2to1' : '1to2'}-${round}`,
      )
    : await mkdtemp(path.join(os.tmpdir(), 'headroom-host-bench-'));
  await mkdir(dir, { recursive: true });
  const flags = world ? await worldFlags(world, dir) : [];
  const label = `${world ? `${world.name} ` : ''}${direction} round ${round}`;
  const profilePath = path.join(dir, 'profile.json');
  const to = direction === '2→1' ? 1 : 2;
  await writeFile(profilePath, JSON.stringify(profile(to)));
  const load0 = loadavg();
  const report = (await cli(
    [
      'capacity',
      '--rows',
      '10000',
      '--sample-seconds',
      String(sampleSeconds),
      '--host-profile',
      profilePath,
      '--out',
      dir,
      ...flags,
    ],
    direction === '1→2',
  )) as CapacityReport;
  const projectedRps = report.projection!.rateRps;
  const sample = await readPipelineSampleFile(path.join(dir, 'sample.json'));
  const rows = fixedRows ?? Math.max(1_000, Math.round(projectedRps * rowsTargetS));
  const forecastS =
    capacityFromSample(sample, {
      rows,
      hostProfile: profile(to),
      source: `sample on ${direction === '2→1' ? '2 cores' : '1 core'}`,
    }).projection!.hoursForRows * 3600;
  console.log(
    `  ${label}: projected ${fmt(rows)} rows in ${fmt(forecastS, 1)} s (${fmt(projectedRps, 1)} rows/s); running for real…`,
  );
  const load1 = loadavg();
  const actualS =
    (
      (await cli(
        ['demo', '--rows', String(rows), '--timeout-s', '1800', ...flags],
        direction === '2→1',
      )) as DemoResult
    ).durationMs / 1000;
  const errorPct = ((forecastS - actualS) / actualS) * 100;
  console.log(
    `  ${label}: actual ${fmt(actualS, 1)} s (${fmt(rows / actualS, 0)} rows/s), error ${signed(errorPct)} (load ${load0} → ${load1} → ${loadavg()})`,
  );
  return { rows, forecastS, actualS, errorPct, load: `${load0} → ${load1}` };
}

/**
 * The host projection over `rounds` rounds, the two directions taking turns: this host's speed
 * drifts by more than 10 % within minutes (other tenants on the physical machine), and a sample
 * and a run a minute apart each catch their own moment. The check compares the median forecast
 * with the median actual, and prints every round and how far the real runs themselves spread.
 */
async function checkHost(
  world: World | undefined,
  rounds: number,
  rowsTargetS: number,
): Promise<HostOutcome[]> {
  const directions: Direction[] = ['2→1', '1→2'];
  const done = new Map<Direction, (HostRound & { rows: number })[]>(directions.map((d) => [d, []]));
  for (let round = 1; round <= rounds; round++)
    for (const d of directions) {
      const first = done.get(d)![0];
      done.get(d)!.push(await hostRound(world, d, round, rowsTargetS, first?.rows));
    }
  return directions.map((d) => {
    const all = done.get(d)!;
    const forecastS = median(all.map((r) => r.forecastS));
    const actualS = median(all.map((r) => r.actualS));
    const actuals = all.map((r) => r.actualS);
    return {
      world: world?.name ?? 'default',
      check:
        d === '2→1'
          ? 'sampled on 2 cores, projected onto 1 (taskset -c 0)'
          : 'sampled on 1 core (taskset -c 0), projected onto 2',
      rows: all[0]!.rows,
      rounds: all.map(({ rows: _, ...r }) => r),
      forecastS,
      actualS,
      errorPct: ((forecastS - actualS) / actualS) * 100,
      actualSpreadPct: (Math.max(...actuals) / Math.min(...actuals) - 1) * 100,
    };
  });
}

console.log(
  `headroom bench:capacity on ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ` +
    `${fmt(os.totalmem() / 2 ** 30)} GB, Node ${process.version}; seed ${seed}, ${worldCount} worlds, samples of ${sampleSeconds} s`,
);
console.log(
  'The pipeline and the simulators (site farm + LLM) share these cores, in the sample and in the real run.\n' +
    `Ranges: sites ${RANGES.siteMedianMs.join('–')} ms σ ${RANGES.siteSigma.join('–')}, pages ${RANGES.pageKb.join('–')} KB, faults 0–10 %, ` +
    `LLM first token ${RANGES.ttftMs.join('–')} ms, ${RANGES.tokensPerSecond.join('–')} tokens/s, ${RANGES.tokensPerMessage.join('–')} tokens/message ` +
    `(an AI call kept ≤ ${MAX_AI_CALL_S} s: longer cannot be sampled in two minutes), rpm/tpm on or off, concurrency ${RANGES.concurrency.join('–')}.\n`,
);

const outcomes: Outcome[] = [];
const random = new SeededRandom(seed);
const worlds = Array.from({ length: worldCount }, (_, i) =>
  drawWorld(random, ROTATION[i % ROTATION.length]!, i),
);
/** `w2` names the drawn world `w2-llm-tpm`, as does its full name. */
const named = (w: World, name: string) => w.name === name || w.name.startsWith(`${name}-`);
/** The host check's worlds: `default` (the embedded defaults) or drawn worlds by name. */
const hostWorlds = values['host-worlds'].split(',').map((n) => {
  const name = n.trim();
  if (name === 'default') return undefined;
  const w = worlds.find((x) => named(x, name));
  if (!w) throw new Error(`--host-worlds: no world ${name} among the ${worlds.length} drawn (or: default)`);
  return w;
});
if (!values['host-only']) {
  const only = values.only?.split(',').map((n) => n.trim());
  for (const w of worlds) {
    if (only && !only.some((n) => named(w, n))) {
      random.next(); // the draw of its run's length, which the worlds after it must not take
      continue;
    }
    outcomes.push(await checkWorld(w, random));
  }
  outcomes.sort((a, b) => Math.abs(a.errorPct) - Math.abs(b.errorPct));
  console.log(
    `Summary, seed ${seed} (2 cores shared by pipeline, simulators and other work; load = 1-min load average at sample / run):`,
  );
  console.log(
    '| world | rows | forecast s (90 % interval) | actual s | error | inside | bottleneck | load |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const o of outcomes)
    console.log(
      `| ${o.world}: ${o.what} | ${fmt(o.rows)} | ${fmt(o.forecastS, 1)} (${o.intervalS ? `${fmt(o.intervalS[0], 1)}–${fmt(o.intervalS[1], 1)}` : 'n/a'}) | ${fmt(o.actualS, 1)} | ` +
        `${signed(o.errorPct)} | ${o.inside === null ? 'n/a' : o.inside ? 'yes' : 'no'} | ${o.bottleneck} (${o.regime})${o.outside.length ? `; outside measured: ${o.outside.join(', ')}` : ''} | ${o.loadSample} / ${o.loadRun} |`,
    );
  const worst = outcomes.at(-1);
  if (worst)
    console.log(
      `\nworst |error| ${fmt(Math.abs(worst.errorPct), 1)} % (${worst.world}); within 10 %: ${outcomes.filter((o) => Math.abs(o.errorPct) <= 10).length}/${outcomes.length}; ` +
        `inside the interval: ${outcomes.filter((o) => o.inside).length}/${outcomes.length}`,
    );
}
const host: HostOutcome[] = [];
if (values.host || values['host-only']) {
  console.log(
    '\nHost projection (the simulators run on the pinned core too, so the profiles count their CPU):',
  );
  for (const w of hostWorlds) {
    if (w) console.log(`── ${w.name}: ${w.what}`);
    host.push(...(await checkHost(w, hostRounds, 45)));
  }
  console.log(
    `\n| world | check | rows | forecasts s | actuals s | median forecast | median actual | error of medians | rounds' errors | real runs' spread |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const h of host)
    console.log(
      `| ${h.world} | ${h.check} | ${fmt(h.rows)} | ${h.rounds.map((r) => fmt(r.forecastS, 1)).join(', ')} | ${h.rounds.map((r) => fmt(r.actualS, 1)).join(', ')} | ` +
        `${fmt(h.forecastS, 1)} | ${fmt(h.actualS, 1)} | **${signed(h.errorPct)}** | ${h.rounds.map((r) => signed(r.errorPct)).join(', ')} | ${fmt(h.actualSpreadPct, 1)} % |`,
    );
}
if (values.out)
  await writeFile(
    path.join(values.out, 'summary.json'),
    `${JSON.stringify({ seed, outcomes, host }, null, 2)}\n`,
  );
