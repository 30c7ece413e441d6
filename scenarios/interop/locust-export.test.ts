import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { libraryScenarios, loadScenario } from '../load-scenario.js';
import { exportPlan } from './export-plan.js';
import { exportLocust } from './locust-export.js';

const run = promisify(execFile);
const TARGET = 'http://127.0.0.1:3000/api/v1';
/** Debian's python3-locust lives in the system Python. */
const PYTHON = '/usr/bin/python3';

describe('exportLocust', () => {
  it('exports every HTTP scenario of the library to a locustfile Python compiles and Locust imports', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-locust-export-'));
    try {
      for (const name of await libraryScenarios()) {
        const scenario = await loadScenario(name);
        if (!['http', 'worker', 'memory-leak'].includes(scenario.type)) continue;
        const file = path.join(dir, `${name}.py`);
        await writeFile(file, exportLocust(exportPlan(scenario, TARGET)));
        // Importing the module runs its top level: Locust's classes and decorators must accept it.
        const { stdout } = await run(PYTHON, [
          '-c',
          `import importlib.util as u, sys; s = u.spec_from_file_location("f", sys.argv[1]); m = u.module_from_spec(s); s.loader.exec_module(m); print(m.Phases().__class__.__name__, m.FlowUser.__name__)`,
          file,
        ]);
        expect(stdout.trim()).toBe('Phases FlowUser');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("says in its header how the arrival rate is approximated, and plays the profile's phases", async () => {
    const script = exportLocust(exportPlan(await loadScenario('api-stress'), TARGET));
    expect(script).toMatch(/# Load: Locust is closed-model/);
    expect(script).toContain('ceil(R / 2) users');
    expect(script).toContain('PHASES = [[10, 20, 200], [30, 200, 200]]');
    expect(script).toContain('OPEN_MODEL = True');
  });

  it('runs a closed load as that many users for the duration', async () => {
    const script = exportLocust(exportPlan(await loadScenario('worker'), TARGET));
    expect(script).toContain('OPEN_MODEL = False');
    expect(script).toContain('CLOSED_USERS = 50');
    expect(script).toContain('CLOSED_DURATION_S = 30');
  });

  it('captures the login token and sends it on the next step', async () => {
    const script = exportLocust(exportPlan(await loadScenario('auth'), TARGET));
    expect(script).toContain('value = read_path(body, ["accessToken"])');
    expect(script).toContain('vars["login_token"] = value');
    expect(script).toContain('"authorization": fill("Bearer ${login_token}", vars)');
  });
});
