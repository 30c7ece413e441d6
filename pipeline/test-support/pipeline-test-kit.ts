import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';
import { ApiClient } from '../api/api-client.js';
import type { PipelineConfigInput } from '../pipeline-config.js';
import type { RunningSimulators } from '../sim/simulator-process.js';
import type { UploadProgress } from '../store/store.js';
import { FAST_AUTH, QUICK_LLM, QUICK_SCRAPER } from './quick-config.js';

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

/** An API client logged in as a test user (registered on first use), closed after the test. */
export async function loggedInClient(apiUrl: string, email = 'e2e@example.com'): Promise<ApiClient> {
  const api = new ApiClient(apiUrl);
  await api.register(email, 'password1').catch(() => {});
  await api.login(email, 'password1');
  onTestFinished(() => api.close());
  return api;
}

/** Polls an upload until it is completed; throws with its last progress after `timeoutMs`. */
export async function waitCompleted(api: ApiClient, id: number, timeoutMs = 60_000): Promise<UploadProgress> {
  const start = Date.now();
  for (;;) {
    const upload = await api.getUpload(id);
    if (upload.status === 'completed') return upload;
    if (Date.now() - start > timeoutMs)
      throw new Error(`upload ${id} not completed: ${JSON.stringify(upload)}`);
    await sleep(50);
  }
}
