import { fmt } from '../analyzer/capacity-model.js';
import type { CapacityBound, CapacityReport, HostCapacity } from '../analyzer/capacity-report.js';

/** A duration people can read: seconds, minutes, hours, or days with hours. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '∞';
  if (seconds < 120) return `${fmt(seconds, 1)} s`;
  if (seconds < 7200) return `${fmt(seconds / 60, 1)} min`;
  if (seconds < 172_800) return `${fmt(seconds / 3600, 2)} h`;
  return `${fmt(seconds / 86_400, 2)} days (${fmt(seconds / 3600, 1)} h)`;
}

/** A rate in rows/s and rows/min. */
export function formatRate(rps: number): string {
  const digits = rps < 10 ? 2 : rps < 100 ? 1 : 0;
  return `${fmt(rps, digits)} rows/s (${fmt(rps * 60, rps * 60 < 100 ? 1 : 0)}/min)`;
}

const mb = (bytes: number | null) => (bytes === null ? 'n/a' : `${fmt(bytes / 1024 / 1024, 0)} MB`);
const gb = (bytes: number) => `${fmt(bytes / 1024 ** 3, 1)} GB`;
const opt = (n: number | null | undefined, digits = 0, unit = '') =>
  n === null || n === undefined ? 'n/a' : `${fmt(n, digits)}${unit}`;
const cell = (text: string) => text.replace(/\|/g, '\\|');

function boundName(b: CapacityBound): string {
  switch (b.kind) {
    case 'stage':
      return `stage ${b.stage}`;
    case 'slots':
      return 'shared worker slots';
    case 'cpu':
      return 'CPU (all cores)';
    case 'process':
      return 'one process per core';
    case 'llm-rpm':
      return 'LLM requests/min';
    case 'llm-tpm':
      return 'LLM tokens/min';
  }
}

function hostSection(title: string, h: HostCapacity, rows: number): string[] {
  const lines = [
    `## ${title}`,
    '',
    `${h.cores} cores${h.cpuModel ? ` (${h.cpuModel})` : ''}, ${gb(h.memoryBytes)} memory${h.reservedMemoryBytes ? `, ${gb(h.reservedMemoryBytes)} held by other services` : ''}; ${h.processes} pipeline process${h.processes === 1 ? '' : 'es'}.`,
    '',
    `- **${fmt(rows)} rows: ${formatDuration(h.hoursForRows * 3600)}** at ${formatRate(h.rateRps)} — ${h.rateSource}`,
    `- **Bottleneck: ${boundName(h.bottleneck)}** (${h.bottleneck.regime}): ${h.bottleneck.explanation}`,
    `- **Advice:** ${h.bottleneck.advice}`,
    `- Headroom at that rate: CPU ${h.cpuUtilisation === null ? 'n/a (no CPU per row known)' : `${fmt(h.cpuUtilisation * 100, 0)} % busy, ${fmt(h.cpuCoresFree ?? 0, 2)} cores free`}; ` +
      `memory ${h.memoryUsedBytes === null ? 'n/a' : `${mb(h.memoryUsedBytes)} used, ${mb(h.memoryFreeBytes)} free`} (${h.memorySource})`,
    `- At most (concurrency raised as needed, ${h.max.processes} process${h.max.processes === 1 ? '' : 'es'}): ` +
      (h.max.rateRps === null
        ? h.max.limitedBy
        : `${formatRate(h.max.rateRps)}, limited by ${h.max.limitedBy}; ${fmt(rows)} rows in ${formatDuration((h.max.hoursForRows ?? Number.POSITIVE_INFINITY) * 3600)}`),
    '',
    '| bound | rows/s | regime | how |',
    '|---|---:|---|---|',
    ...h.bounds.map(
      (b) =>
        `| ${boundName(b)} | ${fmt(b.rateRps, b.rateRps < 10 ? 2 : 1)} | ${b.regime} | ${cell(b.explanation)} |`,
    ),
    '',
  ];
  return lines;
}

/** Renders a capacity report as Markdown (the JSON report is the data; this is its reading). */
export function renderCapacityMarkdown(report: CapacityReport): string {
  const f = report.forecast;
  const lines: string[] = [
    `# Capacity: ${fmt(f.rows)} rows in ${formatDuration(f.totalS)}`,
    '',
    `${{ measured: 'Measured', declared: 'Declared', observed: 'Observed' }[report.mode]} from ${report.inputs.source}; ${report.createdAt}.` +
      (report.inputs.colocatedSimulators ? ' The simulators ran on the same cores as the pipeline.' : ''),
    '',
    `- **Rate:** ${formatRate(f.rateRps)} — ${f.rateSource}`,
    `- **Time:** ${fmt(f.rows)} rows ÷ ${fmt(f.rateRps, 2)} rows/s + ${fmt(f.fillAndDrainS.value, 1)} s fill and drain = ${formatDuration(f.totalS)} (${f.fillAndDrainS.source})`,
    ...(f.interval
      ? [
          `- **How sure:** ${fmt(f.interval.level * 100, 0)} % interval ${formatDuration(f.interval.lowS)} – ${formatDuration(f.interval.highS)} (${f.interval.source})`,
        ]
      : []),
    `- **Bottleneck:** ${boundName(f.bottleneck)}, ${f.bottleneck.regime}. ${f.bottleneck.explanation}`,
    ...report.stages
      .filter((s) => s.measuredConcurrency?.outside)
      .map(
        (s) =>
          `- **Outside what was measured:** ${s.stage} runs at N=${fmt(s.concurrency)}, measured at N=${fmt(s.measuredConcurrency!.min)}…${fmt(s.measuredConcurrency!.max)}`,
      ),
    `- **Advice:** ${f.bottleneck.advice}`,
    `- The stages run at the same time on different rows: adding their times up would say ${formatDuration(f.sumOfStageTimesS)}, which is wrong.`,
    '',
    '## Stages',
    '',
    '| stage | concurrency | capacity rows/s | time alone for the rows | s per row | CPU ms/row | memory per row in flight | USL fit | regime |',
    '|---|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const s of report.stages) {
    const fit = s.fit
      ? `λ=${fmt(s.fit.lambda, 3)} σ=${fmt(s.fit.sigma, 4)} κ=${s.fit.kappa.toExponential(2)}` +
        `${s.fit.peakConcurrency ? ` N*=${fmt(s.fit.peakConcurrency)}` : ''} R²=${s.fit.rSquared === null ? 'n/a' : fmt(s.fit.rSquared, 3)}`
      : 'declared';
    lines.push(
      `| ${s.stage} | ${fmt(s.concurrency)}${s.processes > 1 ? ` × ${s.processes}` : ''} | ${fmt(s.capacityRps.value, s.capacityRps.value < 10 ? 2 : 1)} | ${formatDuration(s.timeForRowsS)} | ` +
        `${opt(s.secondsPerRow?.value, 3)} | ${opt(s.cpuSecondsPerRow ? s.cpuSecondsPerRow.value * 1000 : null, 3)} | ` +
        `${s.memoryPerInFlightBytes ? `${fmt(s.memoryPerInFlightBytes.value / 1024, 1)} KB` : 'n/a'} | ${fit} | ${s.regime} |`,
    );
  }
  const measured = report.stages.filter((s) => s.points.length > 0);
  if (measured.length) {
    lines.push(
      '',
      '### Throughput by concurrency (measured)',
      '',
      '| stage | N | rows/s | fitted rows/s | mean in flight | CPU ms/row | RSS MB |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const s of measured) {
      for (const p of s.points) {
        const fitted = s.fit
          ? (s.fit.lambda * p.concurrency) /
            (1 + s.fit.sigma * (p.concurrency - 1) + s.fit.kappa * p.concurrency * (p.concurrency - 1))
          : null;
        lines.push(
          `| ${s.stage} | ${fmt(p.concurrency)} | ${fmt(p.throughputRps, 1)} | ${opt(fitted, 1)} | ${opt(p.meanInFlight, 1)} | ` +
            `${opt(p.cpuSecondsPerItem === undefined ? null : p.cpuSecondsPerItem * 1000, 3)} | ${opt(p.rssBytes === undefined ? null : p.rssBytes / 1024 / 1024, 0)} |`,
        );
      }
    }
    const fitNotes = measured.flatMap((s) => (s.fit?.notes ?? []).map((n) => `- ${s.stage}: ${n}`));
    if (fitNotes.length) lines.push('', ...fitNotes);
  }
  lines.push(
    '',
    ...hostSection(
      `On the ${{ measured: 'sampled', declared: 'declared', observed: 'observed' }[report.mode]} host: ${report.host.name}`,
      report.host,
      f.rows,
    ),
  );
  if (report.projection)
    lines.push(...hostSection(`Projected onto ${report.projection.name}`, report.projection, f.rows));
  const t = report.target;
  if (t) {
    lines.push(
      `## Target: ${formatRate(t.rateRps)} on ${t.host}`,
      '',
      "| stage | s per row | concurrency (Little's law) | concurrency (USL fit) |",
      '|---|---:|---:|---:|',
      ...t.stages.map(
        (s) =>
          `| ${s.stage} | ${opt(s.secondsPerRow, 3)} | ${opt(s.concurrencyLittle)} | ${opt(s.concurrencyUsl)} |`,
      ),
      '',
    );
    if (t.sharedSlots !== null)
      lines.push(`- Shared worker slots: **${fmt(t.sharedSlots)}** (rate × the stages' seconds per row)`);
    lines.push(
      `- Processes by CPU: ${opt(t.processesByCpu)}; cores needed: ${opt(t.cpuCoresNeeded, 2)}${t.fits.cores === null ? '' : t.fits.cores ? ' (fits)' : ' (does NOT fit)'}`,
      `- RAM: ${mb(t.ramBytes)}${t.fits.memory === null ? '' : t.fits.memory ? ' (fits)' : ' (does NOT fit)'} — ${t.ramSource}`,
      `- LLM: ${fmt(t.llm.rpmNeeded)} requests/min${t.llm.tpmNeeded === null ? '' : `, ${fmt(t.llm.tpmNeeded)} tokens/min`} needed; ` +
        `limits ${t.llm.rpmLimit === null ? 'rpm not set' : `${fmt(t.llm.rpmLimit)} rpm`}, ${t.llm.tpmLimit === null ? 'tpm not set' : `${fmt(t.llm.tpmLimit)} tpm`}` +
        `${t.llm.sufficient === null ? '' : t.llm.sufficient ? ' (enough)' : ' (NOT enough: a higher tier is needed)'}`,
      ...t.notes.map((n) => `- ${n}`),
      '',
    );
  }
  const i = report.inputs;
  lines.push(
    '## Where the figures come from',
    '',
    `- CPU per row: ${i.cpuSecondsPerRow ? `${fmt(i.cpuSecondsPerRow.value * 1000, 3)} ms — ${i.cpuSecondsPerRow.source}` : 'not known'}`,
  );
  if (i.externalCpuSecondsPerRow)
    lines.push(
      `- Simulators' CPU per row: ${fmt(i.externalCpuSecondsPerRow.value * 1000, 3)} ms — ${i.externalCpuSecondsPerRow.source}`,
    );
  lines.push(
    `- Usable CPU: ${fmt(i.usableCpuUtilisation.value * 100, 0)} % — ${i.usableCpuUtilisation.source}`,
  );
  if (i.coresPerProcess)
    lines.push(`- Cores per process: ${fmt(i.coresPerProcess.value, 2)} — ${i.coresPerProcess.source}`);
  if (i.baseRssBytes)
    lines.push(`- Base RSS per process: ${mb(i.baseRssBytes.value)} — ${i.baseRssBytes.source}`);
  for (const s of report.stages) {
    lines.push(`- ${s.stage} capacity: ${s.capacityRps.source}`);
    if (s.secondsPerRow) lines.push(`- ${s.stage} seconds per row: ${s.secondsPerRow.source}`);
    if (s.memoryPerInFlightBytes)
      lines.push(`- ${s.stage} memory per row in flight: ${s.memoryPerInFlightBytes.source}`);
  }
  if (report.notes.length) lines.push('', '## Notes', '', ...report.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}
