import { describe, expect, it } from 'vitest';
import { ArrivalSchedule } from './arrival-schedule.js';

function allArrivals(schedule: ArrivalSchedule): number[] {
  const times: number[] = [];
  for (let k = 0; k < schedule.totalArrivals; k++) times.push(schedule.atMs(k));
  return times;
}

describe('ArrivalSchedule', () => {
  it('puts the k-th arrival of a constant rate at k / rate', () => {
    const schedule = new ArrivalSchedule([{ durationMs: 5_000, rateRps: 200 }]);
    expect(schedule.totalArrivals).toBe(1_000);
    expect([0, 1, 500, 999].map((k) => schedule.atMs(k))).toEqual([0, 5, 2_500, 4_995]);
    expect(schedule.atMs(1_000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('gives a ramp as many arrivals as the integral of its rate, denser as the rate rises', () => {
    const schedule = new ArrivalSchedule([{ durationMs: 5_000, fromRps: 50, toRps: 250 }]);
    expect(schedule.totalArrivals).toBe(750);
    const times = allArrivals(schedule);
    // Arrivals in the first and the last second: the integral of 50→90 and of 210→250 req/s.
    expect(times.filter((t) => t < 1_000)).toHaveLength(70);
    expect(times.filter((t) => t >= 4_000)).toHaveLength(230);
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
  });

  it('solves the k-th time of a ramp from the integral: 50t + 20t² = k', () => {
    const schedule = new ArrivalSchedule([{ durationMs: 5_000, fromRps: 50, toRps: 250 }]);
    for (const k of [1, 10, 100, 500, 749]) {
      const tSec = schedule.atMs(k) / 1_000;
      expect(50 * tSec + 20 * tSec * tSec).toBeCloseTo(k, 6);
    }
  });

  it('ramps down, and up from zero, without dividing by zero', () => {
    const down = allArrivals(new ArrivalSchedule([{ durationMs: 2_000, fromRps: 100, toRps: 0 }]));
    const up = allArrivals(new ArrivalSchedule([{ durationMs: 2_000, fromRps: 0, toRps: 100 }]));
    expect(down).toHaveLength(100);
    expect(up).toHaveLength(100);
    expect([...down, ...up].every(Number.isFinite)).toBe(true);
    expect(down.at(-1)).toBeLessThan(2_000);
  });

  it('chains phases on one clock, carrying a fractional arrival over the boundary', () => {
    const schedule = new ArrivalSchedule([
      { durationMs: 1_500, rateRps: 1 },
      { durationMs: 1_500, rateRps: 1 },
    ]);
    // 1.5 + 1.5 arrivals: one every second across the boundary, not two per phase.
    expect(allArrivals(schedule)).toEqual([0, 1_000, 2_000]);
    expect(schedule.durationMs).toBe(3_000);
    expect(schedule.meanRateRps).toBe(1);
  });

  it('answers in any order, not only increasing k', () => {
    const schedule = new ArrivalSchedule([
      { durationMs: 1_000, rateRps: 100 },
      { durationMs: 1_000, fromRps: 100, toRps: 300 },
    ]);
    const forward = allArrivals(schedule);
    expect([150, 20, 250, 0].map((k) => schedule.atMs(k))).toEqual([150, 20, 250, 0].map((k) => forward[k]));
  });
});
