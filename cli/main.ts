import { HeadroomError, UsageInvalidError } from '../errors.js';
import { ExitCode } from '../exit-code.js';
import type { CliIo } from './cli-io.js';
import { analyzeCommand, analyzeHelp } from './commands/analyze.js';
import { baselineCommand, baselineHelp } from './commands/baseline.js';
import { capacityCommand, capacityHelp } from './commands/capacity.js';
import { compareCommand, compareHelp } from './commands/compare.js';
import { demoCommand, demoHelp } from './commands/demo.js';
import { exportCommand, exportHelp } from './commands/export.js';
import { gateCommand, gateHelp } from './commands/gate.js';
import { historyCommand, historyHelp } from './commands/history.js';
import { importCommand, importHelp } from './commands/import.js';
import { initCommand, initHelp } from './commands/init.js';
import { pipelineCommand, pipelineHelp } from './commands/pipeline.js';
import { profileCommand, profileHelp } from './commands/profile.js';
import { reportCommand, reportHelp } from './commands/report.js';
import { runCommand, runHelp } from './commands/run.js';
import { simCommand, simHelp } from './commands/sim.js';
import { toolsCommand, toolsHelp } from './commands/tools.js';

const usage = `headroom — performance testing and capacity planning for scraping + AI pipelines

Usage: headroom <command> [options]     (headroom <command> --help for its options)
  capacity --rows N      hours for N rows, the bottleneck, workers and RAM for a target rate
  gate [--against REF]   CI regression gate: quick suite vs this host's baselines or a git ref;
                         with headroom.config.json, your own service (any language) vs the ref
  init                   write a starting headroom.config.json for your own service
  baseline save|show|list  store a scenario's gate trials for this host
  compare <base> <head>  compare two sets of trials (folders of runs, baselines)
  history add|show|changes  results per commit and host; change points and creep across merges
  run <scenario>         run a load scenario (auth, api-stress, worker, database, memory-leak, pipeline)
  analyze <run.json>     print a saved run's figures and check thresholds against it
  report <run.json>      render a saved run result as a self-contained HTML report
  export <tool> <scenario>  write a scenario as a k6, Artillery or Locust script
  import <tool> <file>   turn k6, Artillery, Locust or autocannon results into a run result
  profile <scenario>     run a scenario against the pipeline under Clinic.js (--with doctor|flame|heapprofiler)
  demo --rows N          run the embedded pipeline end to end on N generated rows
  pipeline start         run the reference pipeline's API and workers
  sim sites | sim llm    run a simulator (site farm, OpenAI-compatible LLM)
  tools list | install   install the load tools headroom drives on demand (Artillery, Clinic.js)

Exit codes: 0 pass, 1 threshold or gate failure, 2 usage or input error, 3 internal error.
`;

const commands: Record<string, { run: (argv: string[], io: CliIo) => Promise<ExitCode>; help: string }> = {
  analyze: { run: analyzeCommand, help: analyzeHelp },
  baseline: { run: baselineCommand, help: baselineHelp },
  capacity: { run: capacityCommand, help: capacityHelp },
  compare: { run: compareCommand, help: compareHelp },
  demo: { run: demoCommand, help: demoHelp },
  export: { run: exportCommand, help: exportHelp },
  gate: { run: gateCommand, help: gateHelp },
  history: { run: historyCommand, help: historyHelp },
  import: { run: importCommand, help: importHelp },
  init: { run: initCommand, help: initHelp },
  pipeline: { run: pipelineCommand, help: pipelineHelp },
  profile: { run: profileCommand, help: profileHelp },
  report: { run: reportCommand, help: reportHelp },
  run: { run: runCommand, help: runHelp },
  sim: { run: simCommand, help: simHelp },
  tools: { run: toolsCommand, help: toolsHelp },
};

/** Runs one command line; the only place that turns errors into exit codes. */
export async function main(argv: string[], io: CliIo): Promise<ExitCode> {
  const [name, ...rest] = argv;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      io.stdout(usage);
      return name ? ExitCode.Pass : ExitCode.InputError;
    }
    const command = commands[name];
    if (!command) throw new UsageInvalidError(`unknown command "${name}"; run "headroom --help"`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(command.help);
      return ExitCode.Pass;
    }
    return await command.run(rest, io);
  } catch (err) {
    io.endProgress();
    if (err instanceof HeadroomError) {
      io.stderr(`headroom: ${err.message}\n  (${err.code}; see docs/errors.md)\n`);
      return err.exitCode;
    }
    // node:util parseArgs reports unknown or malformed flags with these codes: a usage error.
    const code = (err as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`headroom: ${(err as Error).message}\n  (run "headroom ${name} --help")\n`);
      return ExitCode.InputError;
    }
    io.stderr(`${err instanceof Error ? err.stack : String(err)}\n`);
    return ExitCode.Internal;
  }
}
