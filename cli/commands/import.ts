import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ImportInvalidError, UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { entryFromRun } from '../../history/history-entry.js';
import { DEFAULT_HISTORY_STORE, recordInHistory } from '../../history/open-history-store.js';
import { describeHost } from '../../results/host-description.js';
import { type RunResult, writeRunResult } from '../../results/run-result.js';
import { importArtilleryReport } from '../../scenarios/interop/artillery-import.js';
import { importAutocannonJson } from '../../scenarios/interop/autocannon-import.js';
import type { ImportOptions } from '../../scenarios/interop/imported-result.js';
import { readK6File } from '../../scenarios/interop/k6-import.js';
import { importLocustCsv } from '../../scenarios/interop/locust-import.js';
import { runMetrics } from '../../scenarios/run-metrics.js';
import type { CliIo } from '../cli-io.js';

export const importHelp = `headroom import k6|artillery|locust|autocannon <file…> [options]

Turns another load tool's results into a headroom run result, so analyze, compare, gate, baseline
and report work on them.
  k6          the file of "k6 run --out json=FILE" (exact histograms, time series; .gz too)
              or of "k6 run --summary-export=FILE" (histogram rebuilt from its percentiles)
  artillery   the report of "artillery run --output FILE"
  locust      the CSV files of "locust --csv PREFIX": PREFIX_stats.csv and PREFIX_stats_history.csv
              (PREFIX_failures.csv too if present), or just the PREFIX
  autocannon  the output of "autocannon --json URL" (histogram rebuilt from its percentiles)
Options:
  --out FILE          write the run result (versioned JSON with HDR histograms)
  --scenario NAME     scenario name recorded in the result (default: the file's name)
  --profile P         quick (default) or full, as recorded in the result
  --measured-here     the tool ran on this machine: record this host (default: unknown host,
                      which compares only with other results of unknown hosts)
  --json              print the run result as JSON
  --record            add the result to the history (headroom history), with git's commit and
                      branch here; with --measured-here it joins this host's series
  --history-store URL the history (default ${DEFAULT_HISTORY_STORE}, or postgres://…)
Exit codes: 0 imported, 2 usage error or a file that cannot be imported, 3 internal error.
`;

const TOOLS = ['k6', 'artillery', 'locust', 'autocannon'] as const;
type Tool = (typeof TOOLS)[number];

/** Reads the files of one tool's run and converts them; errors name the file and the problem. */
export async function importRun(
  tool: Tool,
  files: string[],
  options: ImportOptions = {},
): Promise<RunResult> {
  const single = async () => {
    if (files.length !== 1)
      throw new UsageInvalidError(`headroom import ${tool} takes one file (got ${files.length})`);
    return { file: files[0]!, text: await readText(files[0]!) };
  };
  switch (tool) {
    case 'k6': {
      if (files.length !== 1)
        throw new UsageInvalidError(`headroom import k6 takes one file (got ${files.length})`);
      return readK6File(files[0]!, options);
    }
    case 'autocannon': {
      const { file, text } = await single();
      return importAutocannonJson(parseJson(text, file), file, options);
    }
    case 'artillery': {
      const { file, text } = await single();
      return importArtilleryReport(parseJson(text, file), file, options);
    }
    case 'locust': {
      const csv = await locustFiles(files);
      return importLocustCsv(
        {
          stats: await readText(csv.stats),
          history: csv.history ? await readText(csv.history) : undefined,
          // Locust writes the failures file even when nothing failed: a header alone means none.
          failures: csv.failures ? withRows(await readText(csv.failures)) : undefined,
        },
        csv.stats,
        { ...options, scenario: options.scenario ?? path.basename(csv.stats).replace(/_stats\.csv$/, '') },
      );
    }
  }
}

/**
 * The CSV files of one Locust run: given by name (`…_stats.csv`, `…_stats_history.csv`,
 * `…_failures.csv`), or as the PREFIX passed to `locust --csv`.
 */
async function locustFiles(files: string[]): Promise<{ stats: string; history?: string; failures?: string }> {
  let named = files;
  if (files.length === 1 && !files[0]!.endsWith('.csv')) {
    const prefix = files[0]!;
    named = [`${prefix}_stats.csv`, `${prefix}_stats_history.csv`, `${prefix}_failures.csv`].filter((f) =>
      existsSync(f),
    );
  }
  const pick = (suffix: string) => named.find((f) => f.endsWith(suffix));
  const stats = pick('_stats.csv');
  const unknown = named.filter((f) => !/_(stats|stats_history|failures)\.csv$/.test(f));
  if (!stats || unknown.length)
    throw new UsageInvalidError(
      `headroom import locust takes the files of "locust --csv PREFIX" (PREFIX_stats.csv, and PREFIX_stats_history.csv, PREFIX_failures.csv if present) or the PREFIX${unknown.length ? `; not one of them: ${unknown.join(', ')}` : `; no _stats.csv among: ${files.join(', ')}`}`,
    );
  return { stats, history: pick('_stats_history.csv'), failures: pick('_failures.csv') };
}

export async function importCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      scenario: { type: 'string' },
      profile: { type: 'string', default: 'quick' },
      'measured-here': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      record: { type: 'boolean', default: false },
      'history-store': { type: 'string' },
    },
  });
  const [tool, ...files] = positionals;
  if (!tool || !(TOOLS as readonly string[]).includes(tool))
    throw new UsageInvalidError(`name the tool: headroom import ${TOOLS.join('|')} <file…>`);
  if (files.length === 0)
    throw new UsageInvalidError(`name the file to import: headroom import ${tool} <file…>`);
  if (values.profile !== 'quick' && values.profile !== 'full')
    throw new UsageInvalidError(`--profile must be quick or full (got "${values.profile}")`);
  const result = await importRun(tool as Tool, files, {
    scenario: values.scenario,
    profile: values.profile,
    host: values['measured-here'] ? describeHost() : undefined,
  });
  if (values.out) await writeRunResult(values.out, result);
  io.stdout(values.json ? `${JSON.stringify(result)}\n` : renderImport(result, values.out));
  if (values.record)
    for (const line of await recordInHistory(values['history-store'], [entryFromRun(result)]))
      io.stderr(`${line}\n`);
  return ExitCode.Pass;
}

function withRows(csvText: string): string | undefined {
  return csvText.split('\n').filter((line) => line.trim()).length > 1 ? csvText : undefined;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ImportInvalidError(file, [
      `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ]);
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ImportInvalidError(file, [`it is not JSON (${(err as Error).message})`]);
  }
}

const fmt = (n: number | undefined, digits = 1) =>
  n === undefined
    ? 'n/a'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** What was imported: per step, requests, errors and latency percentiles. */
export function renderImport(result: RunResult, out?: string): string {
  const metrics = runMetrics(result);
  const lines = [
    `headroom import ${result.engine}: ${result.scenario.name} → ${result.target}, ${fmt(result.durationMs / 1000)} s` +
      `, ${fmt(metrics.requests?.rps, 1)} req/s; host ${result.host.cpuModel}`,
    '',
    '  step                       requests   errors      p50 ms      p95 ms      p99 ms      max ms',
  ];
  for (const s of result.steps) {
    const m = metrics[`latency:${s.name}`]!;
    const errors = Object.values(s.errors).reduce((a, b) => a + b, 0);
    const p = (q: number) => fmt(m.percentile?.(q)).padStart(10);
    lines.push(
      `  ${s.name.padEnd(25)} ${String(s.requests).padStart(9)} ${String(errors).padStart(8)}  ${p(50)}  ${p(95)}  ${p(99)}  ${fmt(m.max).padStart(10)}`,
    );
  }
  if (out) lines.push('', `  written to ${path.resolve(out)}`);
  return `${lines.join('\n')}\n`;
}
