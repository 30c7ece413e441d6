import { parseArgs } from 'node:util';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { writeRunResult } from '../../results/run-result.js';
import {
  CLINIC_TOOLS,
  CLINIC_VERSION,
  type ClinicTool,
  runClinicProfile,
} from '../../scenarios/clinic-profile.js';
import { loadScenario, type Profile } from '../../scenarios/load-scenario.js';
import type { CliIo } from '../cli-io.js';
import { renderRun } from './run.js';

export const profileHelp = `headroom profile <scenario|file.json> --with doctor|flame|heapprofiler [options]

Starts the reference pipeline under Clinic.js (clinic ${CLINIC_VERSION}, installed on first use into
the tools folder, HEADROOM_TOOLS_DIR or ~/.cache/headroom/tools), runs the scenario against it, stops
the pipeline so clinic analyses what it recorded, and prints the path of clinic's HTML report.
  --with TOOL             doctor (event loop, CPU, memory, handles), flame (CPU flame graph),
                          heapprofiler (allocations)
  --profile quick|full    the scenario's profile (default quick)
  --dest DIR              folder for clinic's data and report (default .clinic)
  --inject-leak BYTES     start the pipeline with a leak of BYTES per request
  --inject-latency-ms N   start it with N ms added to every request
  --slowdown F            start it with request CPU multiplied by F
  --out FILE              also write the scenario's run result
Exit codes: 0 report written (thresholds are reported, not gated: a profiled target is slower),
2 usage or input error, 3 clinic or internal error.
`;

export async function profileCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      with: { type: 'string' },
      profile: { type: 'string', default: 'quick' },
      dest: { type: 'string' },
      'inject-leak': { type: 'string' },
      'inject-latency-ms': { type: 'string' },
      slowdown: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (positionals.length !== 1)
    throw new UsageInvalidError('name one scenario: headroom profile <scenario|file.json> --with doctor');
  if (!values.with || !(CLINIC_TOOLS as readonly string[]).includes(values.with))
    throw new UsageInvalidError(
      `--with must be one of ${CLINIC_TOOLS.join(', ')} (got ${JSON.stringify(values.with)})`,
    );
  if (values.profile !== 'quick' && values.profile !== 'full')
    throw new UsageInvalidError(`--profile must be quick or full (got "${values.profile}")`);
  const scenario = await loadScenario(positionals[0]!, { profile: values.profile as Profile });
  const targetArgs: string[] = [];
  if (values['inject-leak']) targetArgs.push('--inject-leak', values['inject-leak']);
  if (values['inject-latency-ms']) targetArgs.push('--inject-latency-ms', values['inject-latency-ms']);
  if (values.slowdown) targetArgs.push('--slowdown', values.slowdown);

  const profile = await runClinicProfile(scenario, {
    tool: values.with as ClinicTool,
    destDir: values.dest,
    targetArgs,
    onOutput: (line) => io.progress(`clinic: ${line.slice(0, 100)}`),
    onProgress: (p) =>
      io.progress(
        `${scenario.name} under clinic ${values.with} ${p.phase}  ${(p.elapsedMs / 1000).toFixed(0)} s  ` +
          `${p.rateRps.toFixed(0)} req/s  p95 ${p.p95Ms.toFixed(1)} ms  errors ${p.errors}`,
      ),
  });
  io.endProgress();
  if (values.out) await writeRunResult(values.out, profile.run.result);
  io.stdout(renderRun(profile.run));
  io.stdout(`\nclinic ${values.with} report: ${profile.htmlPath}\n`);
  return ExitCode.Pass;
}
