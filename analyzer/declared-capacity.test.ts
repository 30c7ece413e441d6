import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeclaredCapacityInvalidError } from '../errors.js';
import { capacityFromDeclared, loadDeclaredCapacity, parseDeclaredCapacity } from './declared-capacity.js';
import { loadHostProfile } from './host-profile.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/declared/${name}`, import.meta.url));
const MB = 1024 * 1024;

describe("declared capacity: the server report's own figures", () => {
  it('finds the AI stage at 80/min as the bottleneck: 4.34 days for 500k rows, not 11', async () => {
    // Stages overlap, so the slowest one sets the pace: ai 80/min = 1.333 rows/s.
    // 500,000 ÷ 1.3333 = 375,000 s, + 7.5 s fill (a scrape slot at 8/min holds a row 7.5 s)
    // = 375,007.5 s = 104.17 h = 4.34 days. The report's headline says 11 days.
    const file = example('seed-server-report.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    expect(report.forecast.bottleneck.stage).toBe('ai');
    expect(report.forecast.rateRps).toBeCloseTo(80 / 60, 12);
    expect(report.forecast.totalS).toBeCloseTo(375_007.5, 6);
    expect(report.forecast.hours).toBeCloseTo(104.17, 2);
  });

  it('gives scraping 32.6 hours, not the 11 days of "500,000 ÷ (32 workers × 8 sites/min)"', async () => {
    // 32 × 8 = 256 sites/min = 4.267 rows/s; 500,000 ÷ 256 = 1,953 min = 117,187.5 s = 32.6 h.
    const file = example('seed-server-report.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    const scrape = report.stages.find((s) => s.stage === 'scrape')!;
    expect(scrape.capacityRps.value).toBeCloseTo(256 / 60, 12);
    expect(scrape.timeForRowsS).toBeCloseTo(117_187.5, 6);
  });

  it('does not add up stages that run at the same time', async () => {
    // Summing: 500 + 117,187.5 + 375,000 + 1,000 = 493,687.5 s; the pipeline takes 375,007.5 s.
    const file = example('seed-server-report.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    expect(report.forecast.sumOfStageTimesS).toBeCloseTo(493_687.5, 6);
    expect(report.forecast.totalS).toBeLessThan(report.forecast.sumOfStageTimesS);
  });

  it('puts RAM at 522 MB for 32 slots, not 500k rows × 2 MB = 1 TB', async () => {
    // 4 processes × 114.5 MB + 32 rows in flight × 2 MB = 480,247,808 + 67,108,864 = 547,356,672 B.
    const file = example('seed-server-report.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    expect(report.host.memoryUsedBytes).toBe(547_356_672);
    expect(report.host.memoryUsedBytes! / MB).toBeCloseTo(522, 0);
  });

  it('says the declared AI rate cannot reach 1,000/min by concurrency, and what scraping would need', async () => {
    // Scrape: 1,000/min × 7.5 s per slot-row = 125 slots (Little's law).
    const file = example('seed-server-report.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    const target = report.target!;
    expect(target.stages.find((s) => s.stage === 'scrape')!.concurrencyLittle).toBe(125);
    expect(target.notes.join(' ')).toMatch(/ai was declared at 1\.33 rows\/s in total/);
  });
});

describe('declared capacity: 32 slots waiting on ~2 s of I/O', () => {
  it('is latency-bound at 16 rows/s: 8.68 hours for 500k rows', async () => {
    // 32 shared slots ÷ (0.3 s + 1.7 s) = 16 rows/s = 960/min; 500,000 ÷ 16 = 31,250 s = 8.681 h.
    // The 2 s fill is inside that: with the slots shared, every stage flows at 16 rows/s from the
    // start. Raising concurrency, not cores, is the advice.
    const file = example('seed-server-io-bound.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    expect(report.forecast.bottleneck.kind).toBe('slots');
    expect(report.forecast.bottleneck.regime).toBe('latency-bound');
    expect(report.forecast.rateRps).toBeCloseTo(16, 12);
    expect(report.forecast.totalS).toBeCloseTo(31_250, 6);
    expect(report.forecast.bottleneck.advice).toMatch(/^raise concurrency/);
  });

  it('needs 34 slots and 526 MB for 1,000 sites/min, not 200 tasks and 64 GB', async () => {
    // Slots: 16.667 × 2 s = 33.3 → 34 (scrape 16.667 × 0.3 = 5, ai 16.667 × 1.7 = 28.3 → 29).
    // RAM = 4 × 114.5 MB + 34 × 2 MB = 480,247,808 + 71,303,168 = 551,550,976 B = 526 MB.
    const file = example('seed-server-io-bound.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file);
    expect(report.target!.sharedSlots).toBe(34);
    expect(report.target!.ramBytes).toBe(551_550_976);
    expect(report.target!.fits.memory).toBe(true);
  });

  it('projects onto a host profile given on the side', async () => {
    const file = example('seed-server-io-bound.json');
    const report = capacityFromDeclared(await loadDeclaredCapacity(file), file, {
      hostProfile: await loadHostProfile('i5-8500'),
    });
    expect(report.projection?.name).toBe('i5-8500');
    expect(report.projection?.rateRps).toBeCloseTo(16, 12);
  });
});

describe('declared capacity files', () => {
  const valid = {
    kind: 'headroom.declared-capacity',
    version: 1,
    rows: 1000,
    host: { cores: 2, memoryBytes: 4 * 1024 * MB },
    workers: { processes: 1, concurrencyPerProcess: 10 },
    stages: { scrape: { latencyMs: 500 } },
  };

  it('names each bad field, the rule and what was there', () => {
    const bad = {
      ...valid,
      workers: { processes: 0, concurrencyPerProcess: 10 },
      stages: { scrape: { rate: 'fast' }, ocr: {} },
    };
    try {
      parseDeclaredCapacity(bad, 'prod.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DeclaredCapacityInvalidError);
      const message = (err as Error).message;
      expect(message).toContain('prod.json is not a valid declared-capacity file');
      expect(message).toContain('/workers/processes: must be >= 1 (got 0)');
      expect(message).toContain('/stages/scrape/rate: must match pattern');
      expect(message).toContain('unknown field "ocr"');
    }
  });

  it('asks for a rate, a rate per worker or a latency when a stage has none', () => {
    expect(() => parseDeclaredCapacity({ ...valid, stages: { ai: { note: 'fast' } } }, 'x.json')).toThrow(
      /\/stages\/ai: give rate \(e\.g\. "1000\/min"\), ratePerWorker, or latencyMs/,
    );
  });

  it('refuses a stage with both a rate and a rate per worker', () => {
    expect(() =>
      parseDeclaredCapacity({ ...valid, stages: { ai: { rate: '10/s', ratePerWorker: '1/s' } } }, 'x.json'),
    ).toThrow(/give rate or ratePerWorker, not both/);
  });

  it('asks for rows when neither the file nor the options give them', () => {
    const { rows: _omit, ...noRows } = valid;
    const declared = parseDeclaredCapacity(noRows, 'x.json');
    expect(() => capacityFromDeclared(declared, 'x.json')).toThrow(/\/rows: missing/);
  });

  it("reads a rate per process as fixed and a latency as Little's law", () => {
    // 2 processes × 30/min = 1 row/s; 2 × 10 in flight ÷ 0.5 s = 40 rows/s.
    const declared = parseDeclaredCapacity(
      {
        ...valid,
        workers: { processes: 2, concurrencyPerProcess: 10 },
        stages: { scrape: { latencyMs: 500 }, ai: { ratePerWorker: '30/min', worker: 'process' } },
      },
      'x.json',
    );
    const report = capacityFromDeclared(declared, 'x.json');
    expect(report.stages.map((s) => [s.stage, s.capacityRps.value])).toEqual([
      ['scrape', 40],
      ['ai', 1],
    ]);
  });

  it('charges a message its prompt and its completion against the tokens/min limit', () => {
    // 200 in flight ÷ 0.5 s = 400 rows/s unlimited. 1,200,000 tokens/min ÷ (290 + 120) = 2,926.8
    // messages/min = 48.78 rows/s: the tpm limit binds; on the completion alone it would be 166.7.
    const declared = parseDeclaredCapacity(
      {
        ...valid,
        workers: { processes: 1, concurrencyPerProcess: 200 },
        llm: { tpm: 1_200_000, tokensPerMessage: 120, promptTokensPerMessage: 290 },
        stages: { scrape: { latencyMs: 500 }, ai: { latencyMs: 500 } },
      },
      'x.json',
    );
    const report = capacityFromDeclared(declared, 'x.json', { rows: 100_000, targetRateRps: 100 });
    expect(report.inputs.llm).toMatchObject({ tokensPerMessage: 410, promptTokensPerMessage: 290 });
    expect(report.forecast.bottleneck.kind).toBe('llm-tpm');
    expect(report.forecast.bottleneck.rateRps).toBeCloseTo(1_200_000 / 60 / 410, 9);
    expect(report.target!.llm.tpmNeeded).toBe(100 * 60 * 410);
    // Without the prompt, the completion alone is counted, and a note says so.
    const bare = capacityFromDeclared(
      parseDeclaredCapacity({ ...declared, llm: { tpm: 1_200_000, tokensPerMessage: 120 } }, 'y.json'),
      'y.json',
      { rows: 100_000 },
    );
    expect(bare.inputs.llm.tokensPerMessage).toBe(120);
    expect(bare.notes.join('\n')).toMatch(/promptTokensPerMessage is not declared/);
  });
});
