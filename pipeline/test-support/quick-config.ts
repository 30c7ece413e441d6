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
