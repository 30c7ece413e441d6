import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { PROJECT_CONFIG_FILE } from '../../gate/project-config.js';
import { initProject, STARTER_SCENARIO } from '../../gate/project-init.js';
import type { CliIo } from '../cli-io.js';

export const initHelp = `headroom init [options]

Writes a starting ${PROJECT_CONFIG_FILE} in this folder (the repository root), so that
"headroom gate --against origin/main" gates your own service. Asks for the start command and the
ready path when they are not given and the terminal is interactive.
  --start CMD        command that runs the service in the foreground, listening on $PORT
                     (or write \${port} in it), e.g. "node dist/server.js"
  --build CMD        command that builds a checkout, e.g. "npm ci && npm run build"
  --ready PATH       path that answers 2xx once the service is up (default /health)
  --base-url URL     what scenario paths are relative to (default http://127.0.0.1:\${port})
  --suite LIST       comma-separated scenario files or library names (default: writes ${STARTER_SCENARIO})
  --prometheus URL   the Prometheus that scrapes your pipeline, for "headroom capacity"
  --preset NAME      its metric names: headroom, celery or bullmq (default headroom)
  --dir D            the folder to write into (default this one)
  --force            replace an existing ${PROJECT_CONFIG_FILE}
`;

export async function initCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      start: { type: 'string' },
      build: { type: 'string' },
      ready: { type: 'string' },
      'base-url': { type: 'string' },
      suite: { type: 'string' },
      prometheus: { type: 'string' },
      preset: { type: 'string' },
      force: { type: 'boolean', default: false },
      dir: { type: 'string' },
    },
  });
  if (positionals.length > 0)
    throw new UsageInvalidError(`init takes no positional arguments (got ${positionals.join(' ')})`);
  let { start, ready } = values;
  // Questions only for a person at a terminal: in CI a missing flag is an error, never a hang.
  if ((start === undefined || ready === undefined) && process.stdin.isTTY && io.isTty) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      start ??= (await rl.question('Command that starts your service (it listens on $PORT): ')).trim();
      ready ??= (await rl.question('Path that answers 2xx when it is ready [/health]: ')).trim() || '/health';
    } finally {
      rl.close();
    }
  }
  if (!start) throw new UsageInvalidError('init needs --start CMD: the command that runs your service');
  if (values.preset !== undefined && values.prometheus === undefined)
    throw new UsageInvalidError('--preset names the metrics of --prometheus URL: give both');
  const written = await initProject(
    values.dir ?? process.cwd(),
    {
      start,
      ready: ready ?? '/health',
      ...(values.build ? { build: values.build } : {}),
      ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
      ...(values.prometheus ? { prometheus: values.prometheus, preset: values.preset ?? 'headroom' } : {}),
      ...(values.suite
        ? {
            suite: values.suite
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : {}),
    },
    { force: values.force },
  );
  io.stdout(
    `wrote ${written.join(', ')}\nnext: commit it, then run "headroom gate --against origin/main" (see docs/gate-your-service.md)\n`,
  );
  return ExitCode.Pass;
}
