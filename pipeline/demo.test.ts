import { describe, expect, it } from 'vitest';
import { defaultDemoTimeoutMs } from './demo.js';

describe('the default time bound of a demo', () => {
  it('grows with the rows and shrinks with the concurrency', () => {
    expect(defaultDemoTimeoutMs(40_000)).toBeGreaterThan(defaultDemoTimeoutMs(4_000));
    expect(defaultDemoTimeoutMs(4_000, { aiConcurrency: 32 })).toBeGreaterThan(
      defaultDemoTimeoutMs(4_000, { aiConcurrency: 320 }),
    );
  });

  it('leaves a slow run twice the time its stages need: 4,000 rows at 32 scrapes and 32 LLM calls', () => {
    // Default world: the LLM takes 200 ms + 120 tokens at 80/s = 1.7 s a message, so 32 calls in
    // flight finish 4,000 rows in 4,000 × 1.7 ÷ 32 = 212.5 s at best (the capacity model said 220 s).
    const boundMs = defaultDemoTimeoutMs(4_000, { scrapingConcurrency: 32, aiConcurrency: 32 });
    expect(boundMs).toBeGreaterThanOrEqual(2 * 212_500);
    expect(boundMs).toBeLessThan(15 * 60_000);
  });

  it("counts the LLM provider's per-minute limits, prompt tokens included", () => {
    const rpm = defaultDemoTimeoutMs(10_000, {
      simulators: { llm: { rateLimit: { requestsPerMinute: 1_000 } } },
    });
    expect(rpm).toBeGreaterThanOrEqual(2 * 10 * 60_000); // 10,000 requests at 1,000/min: 10 min at best
    const tpm = defaultDemoTimeoutMs(10_000, {
      simulators: { llm: { rateLimit: { tokensPerMinute: 520_000 } } },
    });
    expect(tpm).toBeGreaterThanOrEqual(2 * 10 * 60_000); // ~520 tokens a message (prompt + completion): 10 min
  });

  it('never cuts a quick run shorter than two minutes', () => {
    expect(defaultDemoTimeoutMs(1)).toBeGreaterThanOrEqual(120_000);
  });
});
