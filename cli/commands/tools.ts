import { parseArgs } from 'node:util';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { CLINIC_TOOL } from '../../scenarios/clinic-profile.js';
import { ARTILLERY_TOOL } from '../../scenarios/interop/artillery-driver.js';
import {
  ensureTool,
  isToolInstalled,
  type ToolSpec,
  toolPaths,
  toolsDir,
} from '../../scenarios/interop/tool-install.js';
import type { CliIo } from '../cli-io.js';

/** The tools headroom installs on demand, outside the project's dependencies. */
const TOOLS: Record<string, Omit<ToolSpec, 'toolsDir' | 'onOutput'>> = {
  artillery: ARTILLERY_TOOL,
  clinic: CLINIC_TOOL,
};

export const toolsHelp = `headroom tools list | install <tool...> [options]

The load tools headroom drives but does not depend on (${Object.keys(TOOLS).join(', ')}) are installed
on first use into a tools folder of their own: HEADROOM_TOOLS_DIR, else ~/.cache/headroom/tools
(now ${toolsDir()}). "install" does it ahead of time, e.g. in a CI job before the tests, with npm's
output as progress; a tool already installed is left as it is.
  --timeout S      longest install, in seconds (default 1200)
Exit codes: 0 done, 2 unknown tool or failed install.
`;

export async function toolsCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { timeout: { type: 'string', default: '1200' } },
  });
  const [action, ...names] = positionals;
  if (action === 'list') {
    for (const [key, spec] of Object.entries(TOOLS)) {
      const state = isToolInstalled(spec) ? 'installed' : 'not installed';
      io.stdout(`${key.padEnd(10)} ${spec.name}@${spec.version}  ${state}  ${toolPaths(spec).dir}\n`);
    }
    return ExitCode.Pass;
  }
  if (action !== 'install')
    throw new UsageInvalidError('give an action: headroom tools list | install <tool...>');
  if (names.length === 0)
    throw new UsageInvalidError(`name a tool to install: ${Object.keys(TOOLS).join(', ')}`);
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new UsageInvalidError(`--timeout: must be a number of seconds > 0 (got "${values.timeout}")`);
  }
  const unknown = names.filter((name) => !(name in TOOLS));
  if (unknown.length > 0) {
    throw new UsageInvalidError(`unknown tool "${unknown[0]}"; choose from ${Object.keys(TOOLS).join(', ')}`);
  }
  for (const name of names) {
    const spec = TOOLS[name]!;
    if (isToolInstalled(spec)) {
      io.stdout(`${spec.name}@${spec.version} already installed in ${toolPaths(spec).dir}\n`);
      continue;
    }
    io.stdout(`installing ${spec.name}@${spec.version} into ${toolPaths(spec).dir}\n`);
    const startedAt = Date.now();
    // npm's own lines are the progress: a CI log shows the install moving, not a silent wait.
    // npm prints little until it is done, so a heartbeat says the install is alive.
    const heartbeat = setInterval(
      () =>
        io.stdout(`  … ${Math.round((Date.now() - startedAt) / 1000)} s, still installing ${spec.name}\n`),
      15_000,
    );
    let bin: string;
    try {
      bin = await ensureTool({
        ...spec,
        timeoutMs: timeoutS * 1000,
        onOutput: (line) => io.stdout(`  ${line}\n`),
      });
    } finally {
      clearInterval(heartbeat);
    }
    io.stdout(
      `installed ${spec.name}@${spec.version} in ${Math.round((Date.now() - startedAt) / 1000)} s: ${bin}\n`,
    );
  }
  return ExitCode.Pass;
}
