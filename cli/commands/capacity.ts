import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { capacityFromSample, fmt } from '../../analyzer/capacity-model.js';
import { type CapacityReport, writeCapacityReport } from '../../analyzer/capacity-report.js';
import { capacityFromDeclared, loadDeclaredCapacity } from '../../analyzer/declared-capacity.js';
import { BUNDLED_HOST_PROFILES, loadHostProfile } from '../../analyzer/host-profile.js';
import { parseRate } from '../../analyzer/parse-rate.js';
import type { PipelineSample } from '../../analyzer/pipeline-sample.js';
import { readPipelineSampleFile } from '../../analyzer/pipeline-sample-file.js';
import { writeFileAtomic } from '../../atomic-file.js';
import { fitEvent, levelEvent } from '../../dashboard/capacity-events.js';
import { etaEvent } from '../../dashboard/eta-events.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { findProjectConfig, type ProjectConfig, type ProjectTelemetry } from '../../gate/project-config.js';
import { entryFromCapacity } from '../../history/history-entry.js';
import { DEFAULT_HISTORY_STORE, recordInHistory } from '../../history/open-history-store.js';
import { capacityHtmlDocument } from '../../reports/capacity-html.js';
import { formatDuration, formatRate, renderCapacityMarkdown } from '../../reports/capacity-markdown.js';
import { renderHtmlReport } from '../../reports/html-report.js';
import { describeHost } from '../../results/host-description.js';
import {
  DEFAULT_SAMPLE_SECONDS,
  MAX_SAMPLE_SECONDS,
  samplePipeline,
} from '../../scenarios/pipeline-sampler.js';
import {
  capacityFromObservation,
  type Eta,
  etaOf,
  type Observation,
  observe,
} from '../../telemetry/observed-capacity.js';
import { PrometheusApi } from '../../telemetry/prometheus-api.js';
import { loadTelemetryMapping, TELEMETRY_PRESETS } from '../../telemetry/telemetry-mapping.js';
import type { CliIo } from '../cli-io.js';
import {
  type CommandDashboard,
  dashboardArgv,
  dashboardFlags,
  dashboardHelp,
  openCommandDashboard,
} from '../dashboard-flags.js';
import { defined, numberFlag } from '../flag-value.js';
import { loadSimulatorOptions, simulatorFlags } from '../simulator-flags.js';

export const capacityHelp = `headroom capacity --rows N [options] [simulator flags]
headroom capacity --prometheus URL [--rows N] [--eta] [--window 15m] [--preset NAME | --mapping FILE]

How long N rows take, and what the bottleneck is: per-stage throughput fitted with the Universal
Scalability Law, the CPU the stages share, the LLM's rate limits; workers and RAM for a target rate.
Measures a short sample of the reference pipeline on this host (with the simulators), or reads one.
  --rows N                 rows to forecast (default: the declared file's "rows"; with
                           --prometheus, the rows left now)
  --prometheus URL         read what the team's own pipeline did from Prometheus (e.g.
                           http://127.0.0.1:9090): per stage jobs/s, seconds per job, slots, rows in
                           flight, queue wait and backlog; the LLM's 429s; CPU and memory per row.
                           Every figure names the PromQL it came from (docs/capacity-from-telemetry.md).
                           Default: the "telemetry" of ./headroom.config.json (or --config FILE)
  --config FILE            the project file whose telemetry (and hostProfile) to use
  --reference              sample headroom's reference pipeline even beside a project file
  --window D               the span read, ending now (default 15m; 90s, 1h…)
  --at T                   end the window at T (unix seconds or ISO 8601) instead of now
  --preset NAME            the metric names to read: ${Object.keys(TELEMETRY_PRESETS).join(', ')} (default headroom)
  --mapping FILE           your own metric names and labels (telemetry/telemetry-mapping.schema.json)
  --eta                    when the rows queued now will be through, with its interval
  --follow                 with --eta: read again every --refresh-s S (default 15) until no rows
                           are left, or --max-s S (default 3600) has passed; with --dashboard the
                           page draws the time left and the rows left at each reading
  --declared FILE          take stage rates, workers and latencies from a file instead of measuring
  --sample FILE            read a saved pipeline sample instead of measuring
  --sample-seconds S       length of the sample (at most ${MAX_SAMPLE_SECONDS}; default 90)
  --host-profile F         project onto a host: a profile file, or i5-8500 (6 cores, 15 GB);
                           default the hostProfile of ./headroom.config.json when there is one
  --target-rate R          size for a rate: 1000/min, 20/s, 50000/h
  --processes N            pipeline processes (measured mode: the sample ran 1)
  --usable-cpu F           share of the cores the pipeline may use, 0..1 (default 0.9, unless the
                           sample's combined window calibrates it)
  --scraping-concurrency N --ai-concurrency N   the configured pipeline's concurrency to sample at
  --out DIR                write report.json, report.md, report.html (and sample.json when measured)
  --json                   print the report as JSON
  --record                 add the forecast (rate, hours, fill time) to the result history, with
                           git's commit and branch here (see headroom history)
  --history-store URL      the history (default ${DEFAULT_HISTORY_STORE}, or postgres://…)
${dashboardHelp("each level's point as measured, then the USL fits")}
Simulator flags (measured mode: the simulated world; declared mode: --llm-rpm, --llm-tpm and
  --llm-tokens-per-message override the file's LLM limits): --site-latency-ms --site-latency-sigma
  --page-bytes --fault-rate --llm-ttft-ms --llm-tokens-per-second --llm-tokens-per-message
  --llm-rpm --llm-tpm --seed --sim-config FILE (flags override the file)  (see headroom demo --help)
`;

export async function capacityCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args: dashboardArgv(argv),
    options: {
      rows: { type: 'string' },
      declared: { type: 'string' },
      sample: { type: 'string' },
      'sample-seconds': { type: 'string' },
      'host-profile': { type: 'string' },
      'target-rate': { type: 'string' },
      processes: { type: 'string' },
      'usable-cpu': { type: 'string' },
      'scraping-concurrency': { type: 'string' },
      'ai-concurrency': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      record: { type: 'boolean', default: false },
      'history-store': { type: 'string' },
      prometheus: { type: 'string' },
      window: { type: 'string' },
      config: { type: 'string' },
      reference: { type: 'boolean', default: false },
      at: { type: 'string' },
      preset: { type: 'string' },
      mapping: { type: 'string' },
      eta: { type: 'boolean', default: false },
      follow: { type: 'boolean', default: false },
      'refresh-s': { type: 'string' },
      'max-s': { type: 'string' },
      ...simulatorFlags,
      ...dashboardFlags,
    },
  });
  const rows = numberFlag('rows', values.rows, { min: 1, integer: true });
  const sampleSeconds = numberFlag('sample-seconds', values['sample-seconds'], {
    min: 5,
    max: MAX_SAMPLE_SECONDS,
  });
  const processes = numberFlag('processes', values.processes, { min: 1, integer: true });
  const usableCpu = numberFlag('usable-cpu', values['usable-cpu'], { min: 0.01, max: 1 });
  const scraping = numberFlag('scraping-concurrency', values['scraping-concurrency'], {
    min: 1,
    integer: true,
  });
  const ai = numberFlag('ai-concurrency', values['ai-concurrency'], { min: 1, integer: true });
  let targetRateRps: number | undefined;
  if (values['target-rate'] !== undefined) {
    targetRateRps = parseRate(values['target-rate']);
    if (targetRateRps === undefined || targetRateRps <= 0)
      throw new UsageInvalidError(
        `--target-rate must be a rate such as 1000/min, 20/s or 50000/h (got "${values['target-rate']}")`,
      );
  }
  if (values.declared && values.sample) throw new UsageInvalidError('give --declared or --sample, not both');
  if (
    values.reference &&
    (values.declared || values.sample || values.prometheus !== undefined || values.config)
  )
    throw new UsageInvalidError(
      '--reference samples the reference pipeline: not with --declared, --sample, --prometheus or --config',
    );
  // The project file: its host profile applies when no flag names one, and its telemetry is where
  // the team's own pipeline is read when no other source is named (paths are from its folder).
  const project = values.reference ? undefined : await findProjectConfig(process.cwd(), values.config);
  const telemetry = telemetrySource(values, project);
  const profileSpec =
    values['host-profile'] ??
    (project?.hostProfile !== undefined
      ? BUNDLED_HOST_PROFILES.includes(project.hostProfile)
        ? project.hostProfile
        : path.resolve(project.rootDir, project.hostProfile)
      : undefined);
  const hostProfile = profileSpec ? await loadHostProfile(profileSpec) : undefined;
  const common = defined({ rows, targetRateRps, hostProfile, processes, usableCpuUtilisation: usableCpu });

  if (values.dashboard !== undefined && (values.declared || values.sample))
    throw new UsageInvalidError('--dashboard shows a measurement: leave out --declared and --sample');

  let report: CapacityReport;
  let sample: PipelineSample | undefined;
  // The measured mode's page, finished once the fit is made.
  let finishDashboard: CommandDashboard | undefined;
  if (telemetry) {
    if (values.dashboard !== undefined && !(values.eta && values.follow))
      throw new UsageInvalidError(
        '--dashboard with --prometheus draws the time left as it is read again: add --eta --follow',
      );
    if (values.declared || values.sample)
      throw new UsageInvalidError(
        '--prometheus reads the pipeline that runs; not with --declared or --sample',
      );
    if (scraping !== undefined || ai !== undefined || sampleSeconds !== undefined)
      throw new UsageInvalidError(
        '--scraping-concurrency, --ai-concurrency and --sample-seconds shape a sample; with --prometheus the slots are read',
      );
    const reader = new PrometheusApi(telemetry.prometheus);
    const mapping = await loadTelemetryMapping({ preset: telemetry.preset, file: telemetry.mapping });
    const atS = values.at === undefined ? undefined : parseInstant(values.at);
    const here = describeHost();
    const window = telemetry.window;
    const read = () => observe(reader, mapping, { window, atS });
    if (values.follow && (!values.eta || values.at !== undefined))
      throw new UsageInvalidError(
        '--follow reads the time left again and again: it goes with --eta, without --at',
      );
    if (values.eta && values.follow) {
      const refreshS = numberFlag('refresh-s', values['refresh-s'], { min: 1 }) ?? 15;
      const maxS = numberFlag('max-s', values['max-s'], { min: 1 }) ?? 3600;
      // The live page: the time left and the rows left at each reading.
      const dashboard = await openCommandDashboard(values, io, {
        title: 'headroom capacity: time left',
        subtitle: `${telemetry.prometheus}, ${mapping.name}, the ${window} before each reading`,
      });
      try {
        const code = await followEta(read, io, { refreshS, maxS, json: values.json }, (atS, eta) =>
          dashboard?.publish(etaEvent(atS, eta)),
        );
        await dashboard?.finish({
          type: 'end',
          passed: true,
          verdicts: [],
          report: false,
          summary: 'following stopped',
        });
        return code;
      } catch (err) {
        await dashboard?.close();
        throw err;
      }
    }
    const obs = await read();
    const eta = values.eta ? etaOf(obs) : undefined;
    const forRows = rows ?? (obs.rowsLeft ? Math.max(1, Math.round(obs.rowsLeft.value)) : undefined);
    if (forRows === undefined)
      throw new UsageInvalidError(`--rows is needed: ${mapping.name} gives no rowsLeft to forecast`);
    report = capacityFromObservation(
      obs,
      { ...here, name: 'the observed host (taken as this one)' },
      {
        ...common,
        rows: forRows,
      },
    );
    if (eta)
      report = {
        ...report,
        eta: {
          ...eta,
          lowS: Number.isFinite(eta.lowS) ? eta.lowS : null,
          highS: Number.isFinite(eta.highS) ? eta.highS : null,
        },
      };
  } else if (values.declared) {
    if (processes !== undefined || scraping !== undefined || ai !== undefined || sampleSeconds !== undefined)
      throw new UsageInvalidError(
        '--processes, --scraping-concurrency, --ai-concurrency and --sample-seconds shape a measurement; with --declared, set workers and stages in the file',
      );
    const declared = await loadDeclaredCapacity(values.declared);
    const sim = (await loadSimulatorOptions(values)).llm;
    const llm = defined({
      rpm: sim?.rateLimit?.requestsPerMinute,
      tpm: sim?.rateLimit?.tokensPerMinute,
      tokensPerMessage: sim?.tokensPerMessage,
    });
    if (Object.keys(llm).length) declared.llm = { ...declared.llm, ...llm };
    if (rows === undefined && declared.rows === undefined)
      throw new UsageInvalidError(`--rows is needed: ${values.declared} has no "rows"`);
    report = capacityFromDeclared(declared, values.declared, common);
  } else {
    if (project && !values.sample)
      throw new UsageInvalidError(
        `${project.file} describes your service: capacity reads its pipeline from Prometheus. Add "telemetry": { "prometheus": "http://…:9090", "preset": "celery" } (or "mapping": FILE) to it, or pass --prometheus URL; --declared FILE takes your stage rates from a file, and --reference samples headroom's reference pipeline instead`,
      );
    if (rows === undefined) throw new UsageInvalidError('--rows is needed, e.g. --rows 500000');
    if (values.sample) {
      // Schema-checked here (HRM_SAMPLE_INVALID names the file and the field); a valid sample that
      // cannot carry the model (a stage with no rows) is refused later as HRM_SAMPLE_UNUSABLE.
      sample = await readPipelineSampleFile(values.sample);
    } else {
      const simulators = await loadSimulatorOptions(values);
      const dashboard = await openCommandDashboard(values, io, {
        title: 'headroom capacity',
        subtitle: `a ${sampleSeconds ?? DEFAULT_SAMPLE_SECONDS} s sample of the reference pipeline on this host, for ${rows} rows`,
      });
      sample = await samplePipeline({
        simulators,
        pipeline: { concurrency: defined({ scraping, ai_processing: ai }) },
        sampleSeconds,
        onProgress: (p) => {
          dashboard?.publish(levelEvent(p));
          io.progress(
            `sampling ${(p.elapsedMs / 1000).toFixed(0)}/${(p.budgetMs / 1000).toFixed(0)} s  window ${p.window}/${p.windows}  ` +
              `${p.stage} at ${fmt(p.concurrency)} in flight` +
              (p.point ? `: ${fmt(p.point.throughputRps, 1)} rows/s` : '') +
              (p.combined ? `: ${fmt(p.combined.throughputRps, 1)} rows/s` : ''),
          );
        },
      }).catch(async (err: unknown) => {
        await dashboard?.close();
        throw err;
      });
      io.endProgress();
      finishDashboard = dashboard;
    }
    try {
      report = capacityFromSample(sample, {
        rows,
        ...common,
        source: values.sample ?? 'a sample taken now on this host',
      });
    } catch (err) {
      await finishDashboard?.close();
      throw err;
    }
  }
  if (finishDashboard) {
    const html = renderHtmlReport(capacityHtmlDocument(report));
    finishDashboard.publish(fitEvent(report));
    await finishDashboard.finish(
      {
        type: 'end',
        passed: true,
        verdicts: [],
        report: true,
        summary: `${fmt(report.forecast.rows)} rows → ${formatDuration(report.forecast.totalS)}`,
      },
      html,
    );
  }

  if (values.out) {
    const dir = values.out;
    if (sample && !values.sample)
      await writeFileAtomic(path.join(dir, 'sample.json'), `${JSON.stringify(sample, null, 2)}\n`);
    await writeCapacityReport(path.join(dir, 'report.json'), report);
    await writeFileAtomic(path.join(dir, 'report.md'), renderCapacityMarkdown(report));
    await writeFileAtomic(path.join(dir, 'report.html'), renderHtmlReport(capacityHtmlDocument(report)));
  }
  io.stdout(values.json ? `${JSON.stringify(report)}\n` : renderCapacityText(report));
  if (report.eta && !values.json) io.stdout(`${etaLine(report.eta)}\n`);
  // stderr: --json keeps stdout one JSON object.
  if (values.record)
    for (const line of await recordInHistory(values['history-store'], [entryFromCapacity(report)]))
      io.stderr(`${line}\n`);
  return ExitCode.Pass;
}

/** `eta  3 min 20 s (90 % 3 min 5 s – 3 min 40 s): 1,234 rows left ÷ 6.1 rows/s (…)` */
export function etaLine(eta: NonNullable<CapacityReport['eta']> | Eta): string {
  const bound = (s: number | null) => (s !== null && Number.isFinite(s) ? formatDuration(s) : 'unbounded');
  return `  eta          ${formatDuration(eta.remainingS)} (90 % ${bound(eta.lowS)} – ${bound(eta.highS)}): ${eta.source}`;
}

/** --eta --follow: the time left, read again every refreshS until no rows are left or maxS has passed. */
async function followEta(
  read: () => Promise<Observation>,
  io: CliIo,
  opts: { refreshS: number; maxS: number; json: boolean },
  onReading: (atS: number, eta: Eta) => void = () => {},
): Promise<ExitCode> {
  const started = Date.now();
  for (;;) {
    const obs = await read();
    const left = obs.rowsLeft?.value ?? 0;
    if (left <= 0) {
      io.endProgress();
      io.stdout(
        opts.json
          ? `${JSON.stringify({ rowsLeft: 0, atS: obs.atS })}\n`
          : '  eta          done: no rows left\n',
      );
      return ExitCode.Pass;
    }
    const eta = etaOf(obs);
    onReading(obs.atS, eta);
    if (opts.json) io.stdout(`${JSON.stringify({ ...eta, atS: obs.atS })}\n`);
    else io.progress(etaLine(eta).trim());
    if (Date.now() - started + opts.refreshS * 1000 > opts.maxS * 1000) {
      io.endProgress();
      if (!opts.json)
        io.stdout(`${etaLine(eta)}\n  (stopped after --max-s ${opts.maxS}; rows are still left)\n`);
      return ExitCode.Pass;
    }
    await sleep(opts.refreshS * 1000);
  }
}

/** --at: unix seconds, or an ISO 8601 time. */
function parseInstant(text: string): number {
  const n = Number(text);
  const s = Number.isFinite(n) ? n : Date.parse(text) / 1000;
  if (!Number.isFinite(s))
    throw new UsageInvalidError(`--at: unix seconds or an ISO 8601 time (got "${text}")`);
  return s;
}

/** The summary a person reads: hours for the rows, the bottleneck, the stages, the target, headroom. */
export function renderCapacityText(r: CapacityReport): string {
  const f = r.forecast;
  const h = r.host;
  const lines = [
    `headroom capacity (${r.mode}): ${fmt(f.rows)} rows → ${formatDuration(f.totalS)} on ${h.name} (${h.cores} cores)`,
    `  rate         ${formatRate(f.rateRps)} — ${f.rateSource}`,
    ...(f.interval
      ? [
          `  how sure     ${fmt(f.interval.level * 100, 0)} % interval ${formatDuration(f.interval.lowS)} – ${formatDuration(f.interval.highS)} (${f.interval.source})`,
        ]
      : []),
    ...r.stages
      .filter((s) => s.measuredConcurrency?.outside)
      .map(
        (s) =>
          `  outside      ${s.stage} runs at N=${fmt(s.concurrency)}, measured only at N=${fmt(s.measuredConcurrency!.min)}…${fmt(s.measuredConcurrency!.max)}: its rate there is extrapolated`,
      ),
    `  bottleneck   ${f.bottleneck.kind}${f.bottleneck.stage ? ` ${f.bottleneck.stage}` : ''} (${f.bottleneck.regime}): ${f.bottleneck.explanation}`,
    `  advice       ${f.bottleneck.advice}`,
    `  not the sum  adding the stages' times up would say ${formatDuration(f.sumOfStageTimesS)}: they run at the same time`,
    '',
    '  stage     concurrency   capacity rows/s    time alone         s/row   CPU ms/row   regime',
  ];
  for (const s of r.stages) {
    lines.push(
      `  ${s.stage.padEnd(8)}  ${`${fmt(s.concurrency)}${s.processes > 1 ? `×${s.processes}` : ''}`.padStart(11)}   ${fmt(s.capacityRps.value, 2).padStart(15)}    ${formatDuration(s.timeForRowsS).padEnd(17)} ` +
        `${(s.secondsPerRow ? fmt(s.secondsPerRow.value, 3) : 'n/a').padStart(7)}   ${(s.cpuSecondsPerRow ? fmt(s.cpuSecondsPerRow.value * 1000, 3) : 'n/a').padStart(10)}   ${s.regime}`,
    );
  }
  lines.push(
    '',
    `  headroom     CPU ${h.cpuUtilisation === null ? 'n/a (no CPU per row known)' : `${fmt(h.cpuUtilisation * 100, 0)} % busy, ${fmt(h.cpuCoresFree ?? 0, 2)} cores free`}; ` +
      `memory ${h.memoryUsedBytes === null ? 'n/a' : `${fmt(h.memoryUsedBytes / 1024 / 1024, 0)} MB used, ${fmt((h.memoryFreeBytes ?? 0) / 1024 / 1024, 0)} MB free`}`,
  );
  if (h.max.rateRps !== null)
    lines.push(
      `  at most      ${formatRate(h.max.rateRps)} with ${h.max.processes} process(es), limited by ${h.max.limitedBy}`,
    );
  const p = r.projection;
  if (p) {
    lines.push(
      '',
      `  on ${p.name} (${p.cores} cores, ${fmt(p.memoryBytes / 1024 ** 3, 1)} GB): ${formatDuration(p.hoursForRows * 3600)} at ${formatRate(p.rateRps)}; bottleneck ${p.bottleneck.kind}${p.bottleneck.stage ? ` ${p.bottleneck.stage}` : ''} (${p.bottleneck.regime})`,
      `    ${p.bottleneck.advice}`,
      `    headroom: CPU ${p.cpuUtilisation === null ? 'n/a' : `${fmt(p.cpuUtilisation * 100, 0)} % busy`}; memory ${p.memoryUsedBytes === null ? 'n/a' : `${fmt(p.memoryUsedBytes / 1024 / 1024, 0)} MB used of ${fmt(p.memoryBytes / 1024 / 1024, 0)} MB`}` +
        (p.max.rateRps === null
          ? ''
          : `; at most ${formatRate(p.max.rateRps)} (${p.max.processes} processes, limited by ${p.max.limitedBy})`),
    );
  }
  const t = r.target;
  if (t) {
    const conc = t.stages
      .filter((s) => s.concurrencyLittle !== null)
      .map(
        (s) =>
          `${s.stage} ${fmt(s.concurrencyLittle!)}${s.concurrencyUsl !== null && s.concurrencyUsl !== s.concurrencyLittle ? ` (USL: ${fmt(s.concurrencyUsl)})` : ''}`,
      )
      .join(', ');
    lines.push(
      '',
      `  target ${formatRate(t.rateRps)} on ${t.host}:`,
      `    rows in flight (Little's law): ${conc || 'n/a'}${t.sharedSlots !== null ? `; shared worker slots ${fmt(t.sharedSlots)}` : ''}`,
      `    processes by CPU ${t.processesByCpu ?? 'n/a'}, cores ${t.cpuCoresNeeded === null ? 'n/a' : fmt(t.cpuCoresNeeded, 2)}${t.fits.cores === false ? ' (does NOT fit)' : ''}, ` +
        `RAM ${t.ramBytes === null ? 'n/a' : `${fmt(t.ramBytes / 1024 / 1024, 0)} MB`}${t.fits.memory === false ? ' (does NOT fit)' : ''}`,
      `    LLM ${fmt(t.llm.rpmNeeded)} requests/min${t.llm.tpmNeeded === null ? '' : `, ${fmt(t.llm.tpmNeeded)} tokens/min`}` +
        `${t.llm.sufficient === false ? ' — above the configured limits: a higher tier is needed' : ''}`,
      ...t.notes.map((n) => `    ${n}`),
    );
  }
  if (r.mode === 'measured')
    lines.push(
      '',
      `  (measured on ${h.cores} cores shared by the pipeline and the simulators: figures are for this host)`,
    );
  return `${lines.join('\n')}\n`;
}

/**
 * Where the team's pipeline is read: --prometheus (with --preset/--mapping/--window), else the
 * project file's telemetry (flags still override its preset, mapping and window), unless another
 * source (--declared, --sample) is named. None: the reference pipeline is sampled or a file read.
 */
function telemetrySource(
  values: {
    prometheus?: string;
    preset?: string;
    mapping?: string;
    window?: string;
    declared?: string;
    sample?: string;
  },
  project: ProjectConfig | undefined,
): ProjectTelemetry | undefined {
  if (values.prometheus !== undefined)
    return defined({
      prometheus: values.prometheus,
      preset: values.preset,
      mapping: values.mapping,
      window: values.window ?? '15m',
    }) as ProjectTelemetry;
  const t = project?.telemetry;
  if (!t || values.declared || values.sample) {
    if (values.preset || values.mapping || values.window)
      throw new UsageInvalidError('--preset, --mapping and --window read Prometheus: add --prometheus URL');
    return undefined;
  }
  const byFlag = values.preset !== undefined || values.mapping !== undefined;
  return defined({
    prometheus: t.prometheus,
    preset: byFlag ? values.preset : t.preset,
    mapping: byFlag ? values.mapping : t.mapping && path.resolve(project.rootDir, t.mapping),
    window: values.window ?? t.window,
  }) as ProjectTelemetry;
}
