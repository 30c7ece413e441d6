import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioInvalidError, ScenarioNotFoundError } from '../errors.js';
import { libraryScenarios, loadScenario, parseScenario } from './load-scenario.js';

const minimal = {
  name: 'tiny',
  type: 'http',
  flow: [{ name: 'health', method: 'GET', path: '/health' }],
  profiles: {
    quick: { load: { model: 'open', phases: [{ durationS: 5, rate: 10 }] } },
    full: { load: { model: 'closed', vus: 3, durationS: 60 } },
  },
};

function problemsOf(data: unknown): string[] {
  try {
    parseScenario(data, 'bad.json', 'quick');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioInvalidError);
    return (err as ScenarioInvalidError).problems;
  }
  throw new Error('expected the scenario to be refused');
}

describe('scenario files', () => {
  it('ships the guide scenarios in the library', async () => {
    expect(await libraryScenarios()).toEqual([
      'api-stress',
      'auth',
      'database',
      'memory-leak',
      'pipeline',
      'worker',
    ]);
  });

  it('loads every library scenario in both profiles, the quick one within 60 s', async () => {
    for (const name of await libraryScenarios()) {
      const quick = await loadScenario(name, { profile: 'quick' });
      const full = await loadScenario(name, { profile: 'full' });
      expect(quick.name).toBe(name);
      expect(quick.durationMs).toBeLessThanOrEqual(60_000);
      expect(full.durationMs).toBeGreaterThan(quick.durationMs);
      expect(Object.keys(quick.thresholds).length).toBeGreaterThan(0);
    }
  });

  it('turns phases in seconds into the engine phases and fills defaults', () => {
    const s = parseScenario(structuredClone(minimal), 'tiny.json', 'quick');
    expect(s.load).toEqual({ model: 'open', phases: [{ durationMs: 5_000, rateRps: 10 }] });
    expect(s.setup.users).toBe(1);
    const full = parseScenario(structuredClone(minimal), 'tiny.json', 'full');
    expect(full.load).toEqual({ model: 'closed', vus: 3, durationMs: 60_000 });
  });

  it('lets a profile replace the thresholds of a metric', () => {
    const s = parseScenario(
      {
        ...structuredClone(minimal),
        thresholds: { latency: ['p(95)<500'], errors: ['rate<0.01'] },
        profiles: {
          ...minimal.profiles,
          quick: { ...minimal.profiles.quick, thresholds: { latency: ['p(99)<900'] } },
        },
      },
      'tiny.json',
      'quick',
    );
    expect(s.thresholds.latency!.map((t) => t.source)).toEqual(['p(99)<900']);
    expect(s.thresholds.errors!.map((t) => t.source)).toEqual(['rate<0.01']);
  });

  it('names the field and the allowed values for a wrong enum', () => {
    expect(problemsOf({ ...minimal, type: 'soak' })).toContain(
      '/type: must be one of http, worker, database, memory-leak, pipeline (got "soak")',
    );
  });

  describe('errors follow the branch the file picks, and only that branch', () => {
    /** `minimal` with its quick profile's load replaced. */
    const withQuickLoad = (load: unknown) => ({
      ...minimal,
      profiles: { ...minimal.profiles, quick: { load } },
    });

    it('an open-model phase with a rate that is not a number: that one line, no closed-model complaints', () => {
      const bad = withQuickLoad({ model: 'open', phases: [{ durationS: 5, rate: 'fast' }] });
      expect(problemsOf(bad)).toEqual(['/profiles/quick/load/phases/0/rate: must be number (got "fast")']);
    });

    it('a ramp with a negative end: the ramp branch speaks, not the constant-rate one', () => {
      const bad = withQuickLoad({ model: 'open', phases: [{ durationS: 5, from: 1, to: -3 }] });
      expect(problemsOf(bad)).toEqual(['/profiles/quick/load/phases/0/to: must be >= 0 (got -3)']);
    });

    it('a constant phase that also has ramp fields: they are unknown to a phase with a rate', () => {
      const bad = withQuickLoad({ model: 'open', phases: [{ durationS: 5, rate: 10, to: 20 }] });
      expect(problemsOf(bad)).toEqual(['/profiles/quick/load/phases/0: unknown field "to"']);
    });

    it('a closed model with no users: the closed branch speaks, not the open one', () => {
      const bad = withQuickLoad({ model: 'closed', vus: 0, durationS: 60 });
      expect(problemsOf(bad)).toEqual(['/profiles/quick/load/vus: must be >= 1 (got 0)']);
    });

    it('a closed model with an open-model field: unknown to the closed branch', () => {
      const bad = withQuickLoad({ model: 'closed', vus: 2, durationS: 60, phases: [] });
      expect(problemsOf(bad)).toEqual(['/profiles/quick/load: unknown field "phases"']);
    });

    it('a model that names no branch: one line with the models there are', () => {
      const bad = withQuickLoad({ model: 'poisson', phases: [] });
      expect(problemsOf(bad)).toEqual([
        '/profiles/quick/load/model: must be one of open, closed (got "poisson")',
      ]);
    });

    it('no model at all: one line asking for it', () => {
      const bad = withQuickLoad({ phases: [{ durationS: 5, rate: 10 }] });
      expect(problemsOf(bad)).toEqual(['/profiles/quick/load: missing field "model" (one of open, closed)']);
    });
  });

  it('names the field of a rate below zero and of an unknown field', () => {
    const bad = structuredClone(minimal) as Record<string, unknown>;
    (bad.profiles as { quick: { load: { phases: unknown[] } } }).quick.load.phases = [
      { durationS: 5, rate: -1 },
    ];
    bad.colour = 'blue';
    const problems = problemsOf(bad);
    expect(problems).toContain('(top level): unknown field "colour"');
    expect(problems.some((p) => p.startsWith('/profiles/quick/load/phases/0/rate: must be >= 0'))).toBe(true);
  });

  it('says how to write a threshold it cannot read', () => {
    const problems = problemsOf({ ...minimal, thresholds: { latency: ['p95<500'] } });
    expect(problems).toEqual([
      expect.stringContaining(
        '/profiles/quick/thresholds/latency/0: "p95<500" is not a threshold; write p(95)<500',
      ),
    ]);
  });

  it('refuses an http scenario without a flow', () => {
    const { flow: _flow, ...noFlow } = structuredClone(minimal);
    expect(problemsOf(noFlow)).toEqual(['/flow: a http scenario needs a flow']);
  });

  it('names the file for broken JSON and lists the library for an unknown name', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-scenario-'));
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{ "name": ');
    await expect(loadScenario(file)).rejects.toThrow(/broken\.json is not a valid scenario:\n {2}not JSON/);
    const err = await loadScenario('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioNotFoundError);
    expect((err as Error).message).toContain('api-stress, auth, database, memory-leak, pipeline, worker');
  });
});
