import { fmt } from '../analyzer/capacity-model.js';
import type { CapacityReport, HostCapacity } from '../analyzer/capacity-report.js';
import { uslThroughput } from '../analyzer/usl-fit.js';
import { formatDuration, formatRate } from './capacity-markdown.js';
import type { ChartSpec, HtmlReportDocument, ReportSection, ReportTable } from './html-report.js';

/** Points along a fitted curve: geometric steps, so a log axis shows it evenly. */
const CURVE_STEPS = 60;

/**
 * The capacity report as an HTML document: throughput against concurrency per stage with the
 * fitted USL curve over the measured points, and the time each stage would take for the rows
 * beside the pipeline's (the stages overlap), then the same tables as the Markdown.
 */
export function capacityHtmlDocument(report: CapacityReport): HtmlReportDocument {
  const f = report.forecast;
  const sections: ReportSection[] = [
    {
      heading: 'Forecast',
      paragraphs: [
        `${fmt(f.rows)} rows in ${formatDuration(f.totalS)} at ${formatRate(f.rateRps)} (${f.rateSource}).`,
        ...(f.interval
          ? [
              `${fmt(f.interval.level * 100, 0)} % interval: ${formatDuration(f.interval.lowS)} – ${formatDuration(f.interval.highS)} (${f.interval.source}).`,
            ]
          : []),
        ...report.stages
          .filter((s) => s.measuredConcurrency?.outside)
          .map(
            (s) =>
              `Outside what was measured: ${s.stage} runs at N=${fmt(s.concurrency)}, measured at N=${fmt(s.measuredConcurrency!.min)}…${fmt(s.measuredConcurrency!.max)}.`,
          ),
        `Bottleneck: ${f.bottleneck.kind}${f.bottleneck.stage ? ` (${f.bottleneck.stage})` : ''}, ${f.bottleneck.regime}. ${f.bottleneck.explanation}.`,
        `Advice: ${f.bottleneck.advice}.`,
        `Adding the stages' times up would say ${formatDuration(f.sumOfStageTimesS)}: wrong, the stages run at the same time.`,
      ],
      charts: [stageTimeChart(report)],
    },
  ];
  const fitted = report.stages.filter((s) => s.fit && s.points.length > 0);
  if (fitted.length) {
    sections.push({
      heading: 'Throughput against concurrency',
      paragraphs: fitted.map(
        (s) =>
          `${s.stage}: λ=${fmt(s.fit!.lambda, 3)} rows/s per unit, σ=${fmt(s.fit!.sigma, 4)}, κ=${s.fit!.kappa.toExponential(2)}, ` +
          `R²=${s.fit!.rSquared === null ? 'n/a' : fmt(s.fit!.rSquared, 3)}${s.fit!.peakConcurrency ? `, peak at N*=${fmt(s.fit!.peakConcurrency)}` : ''}.`,
      ),
      charts: fitted.map((s) => throughputChart(report, s.stage)),
    });
  }
  sections.push({ heading: 'Stages', tables: [stageTable(report)] });
  sections.push(
    hostSectionHtml(
      `On the ${{ measured: 'sampled', declared: 'declared', observed: 'observed' }[report.mode]} host: ${report.host.name}`,
      report.host,
      f.rows,
    ),
  );
  if (report.projection)
    sections.push(hostSectionHtml(`Projected onto ${report.projection.name}`, report.projection, f.rows));
  if (report.target) {
    const t = report.target;
    sections.push({
      heading: `Target: ${formatRate(t.rateRps)} on ${t.host}`,
      paragraphs: [
        ...(t.sharedSlots !== null ? [`Shared worker slots: ${fmt(t.sharedSlots)}.`] : []),
        `Processes by CPU: ${t.processesByCpu ?? 'n/a'}; cores needed: ${t.cpuCoresNeeded === null ? 'n/a' : fmt(t.cpuCoresNeeded, 2)}; RAM: ${t.ramBytes === null ? 'n/a' : `${fmt(t.ramBytes / 1024 / 1024, 0)} MB`} (${t.ramSource}).`,
        `LLM: ${fmt(t.llm.rpmNeeded)} requests/min${t.llm.tpmNeeded === null ? '' : `, ${fmt(t.llm.tpmNeeded)} tokens/min`} needed.`,
        ...t.notes,
      ],
      tables: [
        {
          columns: ['stage', 's per row', "concurrency (Little's law)", 'concurrency (USL fit)'],
          rows: t.stages.map((s) => [
            s.stage,
            s.secondsPerRow === null ? 'n/a' : { text: fmt(s.secondsPerRow, 3), numeric: true },
            s.concurrencyLittle ?? 'n/a',
            s.concurrencyUsl ?? 'n/a',
          ]),
        },
      ],
    });
  }
  if (report.notes.length) sections.push({ heading: 'Notes', paragraphs: report.notes });
  return {
    title: `Capacity: ${fmt(f.rows)} rows in ${formatDuration(f.totalS)}`,
    subtitle:
      `${{ measured: 'Measured', declared: 'Declared', observed: 'Observed' }[report.mode]} from ${report.inputs.source}, ${report.createdAt}; ` +
      `${report.host.cores} cores${report.inputs.colocatedSimulators ? ', simulators on the same cores as the pipeline' : ''}.`,
    sections,
  };
}

function stageTimeChart(report: CapacityReport): ChartSpec {
  // One unit for every bar, the one that keeps the longest bar's figure readable.
  const longestS = Math.max(report.forecast.totalS, ...report.stages.map((s) => s.timeForRowsS));
  const [unit, perUnitS]: [string, number] =
    longestS < 120
      ? ['s', 1]
      : longestS < 7200
        ? ['min', 60]
        : longestS < 172_800
          ? ['h', 3600]
          : ['days', 86_400];
  return {
    type: 'bar',
    title: `Time for ${fmt(report.forecast.rows)} rows: each stage alone, and the pipeline (stages overlap)`,
    x: { title: 'stage', categories: [...report.stages.map((s) => s.stage), 'pipeline'] },
    y: { title: 'time', unit },
    series: [
      {
        label: `time (${unit})`,
        values: [...report.stages.map((s) => s.timeForRowsS / perUnitS), report.forecast.totalS / perUnitS],
      },
    ],
  };
}

function throughputChart(report: CapacityReport, stage: string): ChartSpec {
  const s = report.stages.find((x) => x.stage === stage)!;
  const fit = s.fit!;
  const low = Math.max(1, Math.min(fit.minConcurrency, s.concurrency) / 2);
  const high = Math.max(fit.maxConcurrency, s.concurrency, fit.peakConcurrency ?? 0) * 1.5;
  const curve = Array.from({ length: CURVE_STEPS + 1 }, (_, i) => {
    const n = low * (high / low) ** (i / CURVE_STEPS);
    return { x: n, y: uslThroughput(fit, n) };
  });
  return {
    type: 'scatter',
    title: `${stage}: throughput against concurrency, measured and fitted (USL)`,
    x: { title: 'concurrency', unit: 'rows in flight', scale: 'log' },
    y: { title: 'throughput', unit: 'rows/s' },
    series: [
      {
        label: 'measured',
        points: s.points.map((p) => ({ x: p.concurrency, y: p.throughputRps })),
        draw: 'points',
      },
      { label: 'USL fit', points: curve, draw: 'line' },
      {
        label: 'configured',
        points: [{ x: s.concurrency, y: uslThroughput(fit, s.concurrency) }],
        draw: 'points',
      },
    ],
  };
}

function stageTable(report: CapacityReport): ReportTable {
  return {
    columns: ['stage', 'concurrency', 'capacity rows/s', 'time alone', 's per row', 'CPU ms/row', 'regime'],
    rows: report.stages.map((s) => [
      s.stage,
      s.concurrency,
      { text: fmt(s.capacityRps.value, s.capacityRps.value < 10 ? 2 : 1), numeric: true },
      formatDuration(s.timeForRowsS),
      s.secondsPerRow ? { text: fmt(s.secondsPerRow.value, 3), numeric: true } : 'n/a',
      s.cpuSecondsPerRow ? { text: fmt(s.cpuSecondsPerRow.value * 1000, 3), numeric: true } : 'n/a',
      s.regime,
    ]),
  };
}

function hostSectionHtml(heading: string, h: HostCapacity, rows: number): ReportSection {
  return {
    heading,
    paragraphs: [
      `${fmt(rows)} rows: ${formatDuration(h.hoursForRows * 3600)} at ${formatRate(h.rateRps)}. Bottleneck: ${h.bottleneck.explanation}. Advice: ${h.bottleneck.advice}.`,
      `Headroom: CPU ${h.cpuUtilisation === null ? 'n/a' : `${fmt(h.cpuUtilisation * 100, 0)} % busy`}; memory ${h.memoryUsedBytes === null ? 'n/a' : `${fmt(h.memoryUsedBytes / 1024 / 1024, 0)} MB used of ${fmt(h.memoryBytes / 1024 / 1024, 0)} MB`}.`,
      h.max.rateRps === null
        ? `At most: ${h.max.limitedBy}.`
        : `At most ${formatRate(h.max.rateRps)} with ${h.max.processes} processes, limited by ${h.max.limitedBy}.`,
    ],
    tables: [
      {
        columns: ['bound', 'rows/s', 'regime', 'how'],
        rows: h.bounds.map((b) => [
          `${b.kind}${b.stage ? ` ${b.stage}` : ''}`,
          { text: fmt(b.rateRps, b.rateRps < 10 ? 2 : 1), numeric: true },
          b.regime,
          b.explanation,
        ]),
      },
    ],
  };
}
