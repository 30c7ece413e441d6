import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tQuantile } from '../analyzer/linear-trend.js';
import { fingerprintOf } from '../baselines/host-fingerprint.js';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import type { HistoryEntry, HistoryMetric, SeriesPoint } from './history-store.js';
import { openHistoryStore } from './open-history-store.js';
import { compareWithRecentHistory, compareWithSeries, DEFAULT_RECENT_HISTORY } from './recent-history.js';

const latency: HistoryMetric = {
  metric: 'latency:login.p50',
  unit: 'ms',
  direction: 'lower-is-better',
  gate: 'latency',
};
const throughput: HistoryMetric = {
  metric: 'throughput_rps',
  unit: 'rps',
  direction: 'higher-is-better',
  gate: 'throughput',
};

function points(values: readonly number[]): SeriesPoint[] {
  return values.map((value, i) => ({
    id: i + 1,
    measuredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    commit: `c${i}`,
    branch: 'main',
    hostId: 'host-a',
    value,
  }));
}

/** A seeded world: a level, multiplicative noise of 2–8 %, 8–40 results of history. */
function world(random: SeededRandom) {
  const noise = 0.02 + random.next() * 0.06;
  const level = 10 ** (random.next() * 3);
  const n = 8 + random.int(33);
  const draw = () => level * (1 + noise * random.normal());
  return { noise, level, draw, history: Array.from({ length: n }, draw) };
}

describe('a result against the recent history of its series', () => {
  it('calls no regression on a head drawn like its history, in at least 99 % of 2,000 seeded series', () => {
    const random = new SeededRandom(11);
    let calls = 0;
    for (let s = 0; s < 2000; s++) {
      const w = world(random);
      const metric = s % 2 ? latency : throughput;
      const c = compareWithSeries('auth', metric, w.draw(), points(w.history), 0.1);
      if (c.verdict === 'regression') calls++;
    }
    expect(calls / 2000).toBeLessThanOrEqual(0.01);
  });

  it('finds a 20 % step under 2–4 % noise in at least 95 % of seeded series, in either direction', () => {
    const random = new SeededRandom(12);
    let found = 0;
    const series = 1000;
    for (let s = 0; s < series; s++) {
      const noise = 0.02 + random.next() * 0.02;
      const level = 10 ** (random.next() * 3);
      const n = 10 + random.int(31);
      const history = Array.from({ length: n }, () => level * (1 + noise * random.normal()));
      const metric = s % 2 ? latency : throughput;
      const worse = metric.direction === 'lower-is-better' ? 1.2 : 0.8;
      const head = level * worse * (1 + noise * random.normal());
      if (compareWithSeries('auth', metric, head, points(history), 0.1).verdict === 'regression') found++;
    }
    expect(found / series).toBeGreaterThanOrEqual(0.95);
  });

  it('never calls a step below the threshold a regression, however quiet the history', () => {
    const random = new SeededRandom(13);
    for (let s = 0; s < 500; s++) {
      const level = 50 + random.next() * 100;
      const history = Array.from({ length: 30 }, () => level * (1 + 0.002 * random.normal()));
      const step = 1 + random.next() * 0.09;
      const c = compareWithSeries('auth', latency, level * step, points(history), 0.1);
      expect(c.verdict).not.toBe('regression');
    }
  });

  it('is not moved by one wild result in the history', () => {
    const random = new SeededRandom(14);
    const history = Array.from({ length: 20 }, () => 100 * (1 + 0.03 * random.normal()));
    const clean = compareWithSeries('auth', latency, 125, points(history), 0.1);
    history[7] = 900;
    const wild = compareWithSeries('auth', latency, 125, points(history), 0.1);
    expect(clean.verdict).toBe('regression');
    expect(wild.verdict).toBe('regression');
    expect(Math.abs(wild.bound! / clean.bound! - 1)).toBeLessThan(0.05);
  });

  it('reads the bound from the median, the MAD and Student t with n − 1 degrees of freedom', () => {
    const history = [98, 99, 100, 100, 101, 102, 97, 103, 100, 100];
    const c = compareWithSeries('auth', latency, 130, points(history), 0.1);
    // median 100, |deviations| median 1 → scale 1.4826.
    const spread = tQuantile(0.999, 9) * 1.4826 * Math.sqrt(1 + 1 / 10);
    expect(c.median).toBe(100);
    expect(c.bound).toBeCloseTo(100 + spread, 9);
    expect(c.change).toBeCloseTo(0.3, 12);
    expect(c.verdict).toBe('regression');
    expect(compareWithSeries('auth', latency, 75, points(history), 0.1).verdict).toBe('improvement');
  });

  it('says the history is too short below its fewest results, without a verdict', () => {
    const c = compareWithSeries('auth', latency, 500, points([100, 101, 99]), 0.1);
    expect(c).toMatchObject({ verdict: 'too-few', bound: null, points: 3 });
    expect(DEFAULT_RECENT_HISTORY.minPoints).toBeGreaterThan(3);
  });

  it('reports creep when five +3 % steps end at the head, none past the threshold', () => {
    const random = new SeededRandom(15);
    const values: number[] = [];
    for (let level = 0; level < 6; level++)
      for (let i = 0; i < 8; i++) values.push(100 * 1.03 ** level * (1 + 0.005 * random.normal()));
    const head = 100 * 1.03 ** 5;
    const c = compareWithSeries('auth', latency, head, points(values), 0.1);
    // Against the recent window the head is ordinary: only the whole series shows the drift.
    expect(c.verdict).toBe('within');
    expect(c.creep).not.toBeNull();
    expect(c.creep!.change).toBeGreaterThan(0.12);
    expect(c.creep!.steps.length).toBeGreaterThanOrEqual(2);
  });
});

describe('the head against a stored history', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-recent-history-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const hostA = fingerprintOf({ cpuModel: 'A', cores: 2, memoryGiB: 24, os: 'linux x64', nodeMajor: 20 });
  const hostB = fingerprintOf({ cpuModel: 'B', cores: 6, memoryGiB: 15, os: 'linux x64', nodeMajor: 20 });
  const entry = (commit: string, host: typeof hostA, p50: number, minute: number): HistoryEntry => ({
    measuredAt: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
    commit,
    branch: 'main',
    host,
    scenario: 'auth',
    source: 'gate',
    engine: 'open-model',
    figures: {
      'latency:login.p50': { value: p50, unit: 'ms', direction: 'lower-is-better', gate: 'latency' },
      'errors.rate': { value: 0, unit: 'ratio', direction: 'lower-is-better', gate: 'info' },
    },
  });

  it('compares with this host only, leaves out the head commit, and skips figures the gate does not judge', async () => {
    const store = await openHistoryStore(`sqlite:${path.join(dir, 'h.db')}`);
    try {
      for (let i = 0; i < 10; i++) await store.add(entry(`c${i}`, hostA, 100 + (i % 3), i));
      // Another host's slow results and an earlier run of the head's own commit are not its history.
      for (let i = 0; i < 10; i++) await store.add(entry(`d${i}`, hostB, 300, 20 + i));
      await store.add(entry('head', hostA, 400, 40));
      const [c, ...rest] = await compareWithRecentHistory(store, [entry('head', hostA, 130, 50)]);
      expect(rest).toHaveLength(0);
      expect(c).toMatchObject({ scenario: 'auth', points: 10, median: 101, verdict: 'regression' });
    } finally {
      await store.close();
    }
  });
});
