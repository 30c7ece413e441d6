import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageInvalidError } from '../../errors.js';
import { libraryScenarios, loadScenario } from '../load-scenario.js';
import { exportPlan } from './export-plan.js';
import { exportK6 } from './k6-export.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const TARGET = 'http://127.0.0.1:3000/api/v1';

/** Type-checks every .ts file of `dir` against @types/k6 only; returns tsc's output (empty when clean). */
async function typeCheck(dir: string): Promise<{ ok: boolean; output: string }> {
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2020',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        strict: true,
        noEmit: true,
        types: ['k6'],
        typeRoots: [path.join(root, 'node_modules/@types')],
      },
      include: ['*.ts'],
    }),
  );
  try {
    const { stdout } = await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', dir]);
    return { ok: true, output: stdout };
  } catch (err) {
    return { ok: false, output: (err as { stdout?: string }).stdout ?? String(err) };
  }
}

describe('exportK6', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-k6-export-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exports every HTTP scenario of the library to a script that type-checks against @types/k6', async () => {
    const exported: string[] = [];
    for (const name of await libraryScenarios()) {
      for (const profile of ['quick', 'full'] as const) {
        const scenario = await loadScenario(name, { profile });
        // Only the scenarios that are not HTTP flows are refused (see the last test).
        if (!['http', 'worker', 'memory-leak'].includes(scenario.type)) {
          expect(() => exportPlan(scenario, TARGET)).toThrow(UsageInvalidError);
          continue;
        }
        await writeFile(path.join(dir, `${name}-${profile}.ts`), exportK6(exportPlan(scenario, TARGET)));
        exported.push(`${name}-${profile}`);
      }
    }
    for (const name of ['api-stress', 'auth', 'memory-leak', 'worker'])
      expect(exported).toEqual(expect.arrayContaining([`${name}-quick`, `${name}-full`]));
    const check = await typeCheck(dir);
    expect(check.output).toBe('');
    expect(check.ok).toBe(true);
  });

  it('is caught by the type check when the script has an error planted in it', async () => {
    const planted = await mkdtemp(path.join(os.tmpdir(), 'headroom-k6-planted-'));
    try {
      const script = exportK6(exportPlan(await loadScenario('api-stress'), TARGET));
      // http.request takes a method string, not a number.
      const broken = script.replace('http.request("GET"', 'http.request(42');
      expect(broken).not.toBe(script);
      await writeFile(path.join(planted, 'broken.ts'), broken);
      const check = await typeCheck(planted);
      expect(check.ok).toBe(false);
      expect(check.output).toMatch(/broken\.ts\(\d+,\d+\): error TS2345/);
    } finally {
      await rm(planted, { recursive: true, force: true });
    }
  });

  it("maps the thresholds to k6's metrics, per step through the step tag, and rps to http_reqs' rate", async () => {
    const stress = exportK6(exportPlan(await loadScenario('api-stress'), TARGET));
    expect(stress).toContain('"http_req_duration{phase:load}": ["p(95)<1000"]');
    expect(stress).toContain('"http_req_failed{phase:load}": ["rate<0.01"]');
    expect(stress).toContain('"http_reqs{phase:load}": ["rate>500"]');
    expect(stress).toContain('k6 has no rps threshold');
    const auth = exportK6(exportPlan(await loadScenario('auth'), TARGET));
    expect(auth).toContain('"http_req_duration{step:login}": ["p(95)<500"]');
    expect(auth).toContain('tags: { step: "login", phase: \'load\' }');
  });

  it('turns open phases into arrival-rate executors and a closed load into constant VUs', async () => {
    const stress = exportK6(exportPlan(await loadScenario('api-stress'), TARGET));
    expect(stress).toContain('"executor": "ramping-arrival-rate"');
    expect(stress).toContain('"startRate": 20');
    // The ramp to 200, then a constant 200 for 30 s.
    expect(stress).toMatch(
      /"duration": "10s",\s+"target": 200\s+\},\s+\{\s+"duration": "30s",\s+"target": 200/,
    );
    const leak = exportK6(exportPlan(await loadScenario('memory-leak'), TARGET));
    expect(leak).toContain('"executor": "constant-arrival-rate"');
    expect(leak).toContain('"rate": 50');
    const worker = exportK6(exportPlan(await loadScenario('worker'), TARGET));
    expect(worker).toContain('"executor": "constant-vus"');
    expect(worker).toContain('"vus": 50');
  });

  it('carries a captured token into the later steps of the flow', async () => {
    const auth = exportK6(exportPlan(await loadScenario('auth'), TARGET));
    expect(auth).toContain('captured = readPath(body, ["accessToken"]);');
    expect(auth).toContain('vars["login_token"] =');
    expect(auth).toContain('fill("Bearer ${login_token}", vars)');
  });

  it('refuses the database scenario, which does not run over HTTP', async () => {
    const database = await loadScenario('database');
    expect(() => exportPlan(database, TARGET)).toThrow(UsageInvalidError);
  });
});
