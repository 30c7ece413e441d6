import type { PipelineConfigInput } from '../pipeline-config.js';
import type { RunningSimulators } from '../sim/simulator-process.js';

/** Short scraper timeouts so an injected "never answers" fault costs seconds, not minutes. */
export const QUICK_SCRAPER = {
  headersTimeoutMs: 1_500,
  bodyTimeoutMs: 1_000,
  totalTimeoutMs: 3_000,
  retries: 1,
  retryBaseDelayMs: 50,
};
export const QUICK_LLM = { retries: 3, retryBaseDelayMs: 50 };
/** A cheap scrypt cost: tests check behaviour, not hash strength. */
export const FAST_AUTH = { scryptCost: 1024 };

/**
 * A pipeline configuration aimed at the given simulators: the site farm's hosts allowlisted and
 * resolved to loopback (plus any extra `resolve` entries, which stay refused unless allowlisted).
 */
export function simPipelineConfig(
  sims: RunningSimulators,
  extra: { allowHosts?: string[]; resolve?: Record<string, string> } = {},
): PipelineConfigInput {
  const farm = `*.${sims.siteFarm.hostSuffix}`;
  return {
    scraper: {
      ...QUICK_SCRAPER,
      allowHosts: [farm, ...(extra.allowHosts ?? [])],
      resolve: { [farm]: '127.0.0.1', ...extra.resolve },
    },
    llm: { baseUrl: sims.llm.baseUrl, ...QUICK_LLM },
    auth: FAST_AUTH,
    logLevel: 'silent',
  };
}
