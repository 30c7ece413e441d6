import { describe, expect, it } from 'vitest';
import { type DemoTick, defaultDemoTimeoutMs, runDemo } from './demo.js';

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

describe('the ticks of a demo run', () => {
  it('reports every stage with counts that only grow, ending on the counts of the result', async () => {
    const ticks: DemoTick[] = [];
    // Few LLM calls in flight: the AI stage takes a few seconds, so several ticks fall inside it.
    const result = await runDemo({
      rows: 120,
      pipeline: { concurrency: { ai_processing: 20 } },
      pollMs: 100,
      tickMs: 250,
      onTick: (t) => ticks.push(t),
    });
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks.filter((t) => t.final)).toEqual([ticks.at(-1)]);
    for (const [i, t] of ticks.entries()) {
      expect(t.rows).toBe(120);
      expect(t.stages.ingest.total).toBe(120);
      expect(t.stages.ai.done).toBe(t.messages);
      if (i === 0) continue;
      const before = ticks[i - 1]!;
      // The final tick can fall in the same millisecond as the last poll's.
      expect(t.elapsedMs).toBeGreaterThanOrEqual(before.elapsedMs);
      for (const stage of ['ingest', 'scrape', 'ai'] as const)
        expect(t.stages[stage].done + t.stages[stage].failed).toBeGreaterThanOrEqual(
          before.stages[stage].done + before.stages[stage].failed,
        );
    }
    expect(ticks.some((t) => t.stages.ai.rowsPerSecond > 0)).toBe(true);
    const last = ticks.at(-1)!;
    expect(last.messages).toBe(result.messages);
    expect(last.failed).toBe(result.failed);
    expect(last.inProgress).toBe(0);
    expect(ticks[0]!.messages).toBeLessThan(last.messages);
  }, 120_000);
});
