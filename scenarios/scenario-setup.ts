import { ApiClient, ApiResponseError } from '../pipeline/api/api-client.js';

/** A user registered before the run, with a token; iteration k uses user k mod users. */
export interface SetupUser {
  email: string;
  password: string;
  token: string;
}

const SETUP_CONCURRENCY = 8;

/**
 * Registers `count` users (an existing one is fine: runs against the same target reuse them) and
 * logs each in once. Done before the load starts, so login cost never counts in another scenario.
 */
export async function setupUsers(apiUrl: string, count: number, runId: string): Promise<SetupUser[]> {
  const users: SetupUser[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(SETUP_CONCURRENCY, count) }, async () => {
      const client = new ApiClient(apiUrl);
      try {
        while (next < count) {
          const i = next++;
          const email = `load-${runId}-${i}@headroom.test`;
          const password = `headroom-load-${runId}-${i}`;
          try {
            await client.register(email, password);
          } catch (err) {
            if (!(err instanceof ApiResponseError && err.status === 409)) throw err;
          }
          users[i] = { email, password, token: await client.login(email, password) };
        }
      } finally {
        await client.close();
      }
    }),
  );
  return users;
}
