import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SeriesReport } from '../../history/history-changes.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

/**
 * A service whose one endpoint takes the time its checkout's cost.json says. It waits rather than
 * spins, so what other tests do with the shared cores moves its latency little.
 */
const SERVER = `
const http = require('node:http');
const { waitMs } = require('./cost.json');
http.createServer((req, res) => {
  setTimeout(() => res.end('ok'), waitMs);
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

const SCENARIO = {
  name: 'burn',
  type: 'http',
  flow: [{ name: 'work', method: 'GET', path: '/work' }],
  profiles: {
    quick: { load: { model: 'open', phases: [{ durationS: 3, rate: 20 }] } },
    full: { load: { model: 'open', phases: [{ durationS: 3, rate: 20 }] } },
  },
};

let repo: string;
let work: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo }).toString().trim();

async function commit(message: string, waitMs: number): Promise<string> {
  await writeFile(path.join(repo, 'cost.json'), JSON.stringify({ waitMs }));
  await writeFile(path.join(repo, 'CHANGES'), `${message}\n`, { flag: 'a' });
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

/** Starts the checkout's service and returns its base URL and a stop function. */
async function startService(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['server.cjs'], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

beforeAll(async () => {
  repo = await mkdtemp(path.join(os.tmpdir(), 'headroom-history-repo-'));
  work = await mkdtemp(path.join(os.tmpdir(), 'headroom-history-work-'));
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'ci@headroom.test');
  git('config', 'user.name', 'headroom test');
  await writeFile(path.join(repo, 'server.cjs'), SERVER);
  await writeFile(path.join(work, 'burn.json'), JSON.stringify(SCENARIO));
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('history changes on real runs, one per commit', () => {
  it('names the commit that made the service 15 % slower, and fails a nightly check since before it', async () => {
    const store = `sqlite:${path.join(work, 'history.db')}`;
    const commits: string[] = [];
    for (let i = 0; i < 6; i++) commits.push(await commit(`change ${i}`, 20));
    const slow = await commit('a 15 % slower handler', 23);
    commits.push(slow);
    for (let i = 6; i < 11; i++) commits.push(await commit(`change ${i}`, 23));

    for (const sha of commits) {
      git('checkout', '-q', sha);
      const service = await startService();
      try {
        const out = path.join(work, `${sha}.json`);
        const run = capturedIo();
        const code = await main(
          ['run', path.join(work, 'burn.json'), '--target', service.url, '--out', out],
          run,
        );
        expect(code, run.err).toBe(0);
        const add = capturedIo();
        expect(
          await main(['history', 'add', out, '--commit', sha, '--branch', 'main', '--store', store], add),
        ).toBe(0);
        expect(add.out).toMatch(/^recorded .* as #\d+: burn, \d+ figures, commit [0-9a-f]{10}, host host-/);
      } finally {
        service.stop();
      }
    }

    // Since the first commit, the slow one is new: the nightly check fails.
    const changes = (...more: string[]) => [
      'history',
      'changes',
      'burn',
      'latency:work.p50',
      '--store',
      store,
      '--repo',
      repo,
      ...more,
    ];
    const io = capturedIo();
    const html = path.join(work, 'history.html');
    const args = changes('--json', '--html', html, '--since', commits[0]!);
    expect(await main(args, io)).toBe(1);
    const [series] = JSON.parse(io.out.split('\n')[0]!) as SeriesReport[];
    expect(series!.points).toHaveLength(12);
    const regressions = series!.changes.filter((c) => c.regression);
    const seen = `values ${series!.points.map((p) => p.value.toFixed(2)).join(' ')}; changes ${JSON.stringify(series!.changes.map((c) => [c.index, c.change.toFixed(3), c.regression]))}`;
    expect(
      regressions.map((c) => c.to.commit),
      seen,
    ).toEqual([slow]);
    expect(regressions[0]!.from.commit).toBe(commits[5]);
    // The handler's 15 % is most of the latency; the interval holds what was measured around it.
    expect(regressions[0]!.change).toBeGreaterThan(0.1);
    expect(regressions[0]!.changeLow).toBeGreaterThan(0);
    expect(await readFile(html, 'utf8')).toContain(slow.slice(0, 10));

    // Since the slow commit, nothing new: a nightly check from there passes.
    const later = capturedIo();
    git('checkout', '-q', 'main');
    expect(await main(changes('--since', slow), later)).toBe(0);
    expect(later.out).toContain('pass: no regression past its threshold and no creep since');
  }, 300_000);
});
