import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';
import { ApiClient } from '../api/api-client.js';
import type { UploadProgress } from '../store/store.js';

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
