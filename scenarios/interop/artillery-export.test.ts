import { describe, expect, it } from 'vitest';
import { UsageInvalidError } from '../../errors.js';
import { loadScenario } from '../load-scenario.js';
import { exportArtillery } from './artillery-export.js';
import { exportPlan } from './export-plan.js';

const TARGET = 'http://127.0.0.1:3000/api/v1';

// Artillery itself reads these scripts in run-with-driver.test.ts; here, what they say.
describe('exportArtillery', () => {
  it('writes the phases as arrivalRate, rampTo and duration', async () => {
    const yaml = exportArtillery(exportPlan(await loadScenario('api-stress'), TARGET));
    expect(yaml).toContain(
      '  phases:\n    - duration: 10\n      arrivalRate: 20\n      rampTo: 200\n    - duration: 30\n      arrivalRate: 200\n',
    );
    expect(yaml).toContain(`  target: "${TARGET}"`);
  });

  it('registers the setup users in a before flow and captures a token from the login', async () => {
    const yaml = exportArtillery(exportPlan(await loadScenario('api-stress'), TARGET));
    expect(yaml).toMatch(/^before:\n {2}flow:\n {4}- loop:/m);
    expect(yaml).toContain('email: "headroom-export-{{ $loopElement }}@headroom.test"');
    expect(yaml).toContain('over: [0, 1, 2,');
    expect(yaml).toContain('          - json: "$.accessToken"\n            as: "token"');
    expect(yaml).toContain('authorization: "Bearer {{ token }}"');
  });

  it("reads the runner's users from a payload instead when given one", async () => {
    const yaml = exportArtillery(exportPlan(await loadScenario('api-stress'), TARGET), {
      usersCsv: 'users.csv',
    });
    expect(yaml).not.toContain('before:');
    expect(yaml).toContain(
      '  payload:\n    path: "users.csv"\n    fields: ["email", "password", "token"]\n    order: "sequence"',
    );
  });

  it('checks latency and error thresholds with ensure, per step through metrics-by-endpoint', async () => {
    const stress = exportArtillery(exportPlan(await loadScenario('api-stress'), TARGET));
    expect(stress).toContain(
      '    ensure:\n      maxErrorRate: 1\n      thresholds:\n        - http.response_time.p95: 1000',
    );
    expect(stress).toContain('requests rps>500: not checked by Artillery');
    const auth = exportArtillery(exportPlan(await loadScenario('auth'), TARGET));
    expect(auth).toContain('- plugins.metrics-by-endpoint.response_time.login.p95: 500');
    expect(auth).toContain('useOnlyRequestNames: true');
  });

  it('refuses a closed load, which Artillery cannot express', async () => {
    const worker = exportPlan(await loadScenario('worker'), TARGET);
    expect(() => exportArtillery(worker)).toThrow(UsageInvalidError);
    expect(() => exportArtillery(worker)).toThrow(/no closed model/);
  });
});
