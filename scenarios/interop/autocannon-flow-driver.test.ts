import { describe, expect, it, onTestFinished } from 'vitest';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { checkRunResult } from '../../results/run-result.js';
import { parseScenario } from '../load-scenario.js';
import type { RunProgress } from '../run-recorder.js';
import { startTestHttpServer } from '../test-support/test-http-server.js';
import { runAutocannonFlow } from './autocannon-flow-driver.js';
import { exportPlan } from './export-plan.js';

/** A login that hands out a token per call, and a route that accepts only a token it handed out. */
async function tokenServer() {
  let issued = 0;
  const seen = { login: 0, me: 0, meRejected: 0 };
  const server = await startTestHttpServer((req, res, body) => {
    if (req.url === '/api/login') {
      seen.login++;
      const { email } = JSON.parse(body) as { email: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { token: `t-${issued++}-${email}` } }));
    } else if (req.url === '/api/me') {
      seen.me++;
      const ok = /^Bearer t-\d+-user\d@x$/.test(req.headers.authorization ?? '');
      if (!ok) seen.meRejected++;
      res.writeHead(ok ? 200 : 401).end();
    } else res.writeHead(404).end();
  });
  onTestFinished(() => server.close());
  return { server, seen };
}

const users = [0, 1, 2].map((i) => ({ email: `user${i}@x`, password: 'p', token: `setup-${i}` }));

describe('runAutocannonFlow', () => {
  it('runs the flow on every connection, carrying a captured token into the next step', async () => {
    const { server, seen } = await tokenServer();
    const scenario = parseScenario(
      {
        name: 'tokens',
        type: 'http',
        flow: [
          {
            name: 'login',
            method: 'POST',
            path: '/login',
            json: { email: '${email}', password: '${password}' },
            capture: { session: '$.data.token' },
          },
          { name: 'me', method: 'GET', path: '/me', headers: { authorization: 'Bearer ${session}' } },
        ],
        profiles: {
          quick: { load: { model: 'closed', vus: 4, durationS: 2 } },
          full: { load: { model: 'closed', vus: 4, durationS: 2 } },
        },
      },
      'memory',
      'quick',
    );
    const progress: RunProgress[] = [];
    const { result, raw } = await runAutocannonFlow(exportPlan(scenario, `${server.url}/api`), {
      users,
      onProgress: (p) => progress.push(p),
    });

    expect(() => checkRunResult(result, 'memory')).not.toThrow();
    expect(result.engine).toBe('autocannon');
    expect(seen.login).toBeGreaterThan(10);
    expect(seen.meRejected).toBe(0);
    const [login, me] = result.steps.map((s) => LatencyHistogram.decode(s.latencyHistogram));
    // Each response is counted once, under the step that sent it.
    expect(login!.count + me!.count).toBe(raw.requests.total);
    expect(Math.abs(login!.count - me!.count)).toBeLessThanOrEqual(4);
    expect(result.steps.map((s) => s.errors)).toEqual([{}, {}]);
    expect(result.timeSeries.reduce((t, p) => t + p.requests, 0)).toBe(raw.requests.total);
    // A closed loop has no intended send time: one histogram serves as both.
    expect(result.steps.every((s) => s.serviceHistogram === s.latencyHistogram)).toBe(true);
    // Live progress once a second, as with headroom's own engines.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]!.requests).toBeGreaterThan(0);
    expect(progress.at(-1)!.requests).toBeLessThanOrEqual(raw.requests.total);
    expect(progress[0]!.inFlight).toBe(4);
  });
});
