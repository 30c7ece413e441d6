import { parseArgs } from 'node:util';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { startLlmSimulator } from '../../pipeline/sim/llm-simulator.js';
import { startSiteFarm } from '../../pipeline/sim/site-farm.js';
import type { CliIo } from '../cli-io.js';
import { numberFlag } from '../flag-value.js';
import { loadSimulatorOptions, simulatorFlags } from '../simulator-flags.js';
import { waitForSignal } from '../wait-for-signal.js';

export const simHelp = `headroom sim sites|llm [--host H] [--port P] [simulator flags]

  sim sites   a site farm answering for site-N.sites.test (lognormal latency, ~20 KB pages, faults)
  sim llm     an OpenAI-compatible chat-completions endpoint (TTFT, tokens/s, 429s, rate limits)
Flags as in "headroom demo --help".
`;

export async function simCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const [which, ...rest] = argv;
  if (which !== 'sites' && which !== 'llm')
    throw new UsageInvalidError(`use "sim sites" or "sim llm" (got "${which ?? ''}")`);
  const { values } = parseArgs({
    args: rest,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      ...simulatorFlags,
    },
  });
  const port = numberFlag('port', values.port, { min: 0, max: 65535, integer: true })!;
  const sim = await loadSimulatorOptions(values);
  if (which === 'sites') {
    const farm = await startSiteFarm({ ...sim.siteFarm, host: values.host, port });
    io.stdout(
      `headroom sim sites: ${farm.url} answers for *.${farm.hostSuffix}; e.g. ${farm.siteUrl(0)}\n` +
        `  point a pipeline at it with --allow-host '*.${farm.hostSuffix}' --resolve '*.${farm.hostSuffix}=${values.host}'\n`,
    );
    await waitForSignal();
    await farm.close();
  } else {
    const llm = await startLlmSimulator({ ...sim.llm, host: values.host, port });
    io.stdout(`headroom sim llm: OpenAI-compatible API at ${llm.baseUrl} (POST /chat/completions)\n`);
    await waitForSignal();
    await llm.close();
  }
  return ExitCode.Pass;
}
