import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../atomic-file.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { exportArtillery } from '../../scenarios/interop/artillery-export.js';
import { exportPlan } from '../../scenarios/interop/export-plan.js';
import { exportK6 } from '../../scenarios/interop/k6-export.js';
import { exportLocust } from '../../scenarios/interop/locust-export.js';
import { loadScenario, type Profile } from '../../scenarios/load-scenario.js';
import type { CliIo } from '../cli-io.js';

export const exportHelp = `headroom export k6|artillery|locust <scenario|file.json> [options]

Writes a scenario as a script for another load tool: the same flow (captures carried to later
steps), setup users registered before the load, the profile's phases and the thresholds the tool
can check.
  k6          TypeScript for k6 (arrival-rate executors, setup(), checks, thresholds)
  artillery   YAML for Artillery 2 (phases, before flow, captures, ensure checks)
  locust      a locustfile (HttpUser in flow order, LoadTestShape for the phases)
  --profile quick|full    quick (default) or full
  --target URL            the API the script aims at (default http://127.0.0.1:3000/api/v1)
  --out FILE              write the script to FILE (default: print it)
Run the script with the tool, then bring its results back with "headroom import".
`;

const DEFAULT_TARGET = 'http://127.0.0.1:3000/api/v1';
const EXPORTERS = {
  k6: exportK6,
  artillery: (plan: Parameters<typeof exportArtillery>[0]) => exportArtillery(plan),
  locust: exportLocust,
} as const;

export async function exportCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string', default: 'quick' },
      target: { type: 'string', default: DEFAULT_TARGET },
      out: { type: 'string' },
    },
  });
  const [tool, name] = positionals;
  if (positionals.length !== 2 || !tool || !name)
    throw new UsageInvalidError(
      'name a tool and one scenario: headroom export k6|artillery|locust <scenario>',
    );
  if (!Object.hasOwn(EXPORTERS, tool))
    throw new UsageInvalidError(`unknown tool "${tool}": headroom exports to k6, artillery and locust`);
  if (values.profile !== 'quick' && values.profile !== 'full')
    throw new UsageInvalidError(`--profile must be quick or full (got "${values.profile}")`);
  try {
    new URL(values.target);
  } catch {
    throw new UsageInvalidError(`--target must be a URL like ${DEFAULT_TARGET} (got "${values.target}")`);
  }
  const scenario = await loadScenario(name, { profile: values.profile as Profile });
  const script = EXPORTERS[tool as keyof typeof EXPORTERS](exportPlan(scenario, values.target));
  if (!values.out) {
    io.stdout(script);
    return ExitCode.Pass;
  }
  await writeFileAtomic(values.out, script);
  io.stderr(`wrote ${values.out} (${tool}, ${scenario.name}, ${scenario.profile})\n`);
  return ExitCode.Pass;
}
