import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureBaselines } from '../baselines/measure-baseline.js';
import { type GateRoundProgress, runGate } from '../gate/run-gate.js';
import { type GateRoundEvent, gateEndEvent, gateRoundEvent } from './gate-events.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'headroom-gate-events-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the gate page events', () => {
  it('reports each measured round, with an interval per gated figure from the second one on', async () => {
    await measureBaselines(['api-stress'], { suite: 'smoke', trials: 2, dir });
    const rounds: GateRoundProgress[] = [];
    const run = await runGate({ suite: 'smoke', trials: 3, dir, onRound: (r) => rounds.push(r) });
    expect(rounds.map((r) => `${r.scenario} ${r.round}/${r.rounds}`)).toEqual([
      'api-stress 1/3',
      'api-stress 2/3',
      'api-stress 3/3',
    ]);
    // The base is the stored baseline's two trials throughout; the head grows round by round.
    expect(rounds.map((r) => [r.base.length, r.head.length])).toEqual([
      [2, 1],
      [2, 2],
      [2, 3],
    ]);
    expect(rounds[0]!.gate).toBeNull();
    const events = rounds.map((r) => gateRoundEvent(r) as GateRoundEvent);
    expect(events.map((e) => `${e.roundsDone}/${e.roundsTotal}`)).toEqual(['1/3', '2/3', '3/3']);
    expect(events[0]!.figures.length).toBeGreaterThan(0);
    expect(events[0]!.figures.every((f) => f.interval === null)).toBe(true);
    const last = events.at(-1)!;
    // The last round's intervals are the gate's own: the outcome compares the same trials.
    const outcome = run.outcome.scenarios[0]!.figures.filter((f) => f.gated);
    expect(last.figures.map((f) => f.figure).sort()).toEqual(outcome.map((f) => f.figure).sort());
    for (const f of last.figures) {
      const v = outcome.find((o) => o.figure === f.figure)!;
      expect(f.interval).toMatchObject({ low: v.low, high: v.high, verdict: v.verdict, failed: v.failed });
      // Base and head are the latest trial of each side, not the medians.
      expect(f.head).toBe(rounds[2]!.head[2]!.figures[f.figure]!.value);
      expect(f.base).toBe(rounds[2]!.base[1]!.figures[f.figure]!.value);
    }
    const end = gateEndEvent(run.outcome);
    expect(end).toMatchObject({ type: 'end', passed: run.outcome.passed });
  }, 180_000);
});
