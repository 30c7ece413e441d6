import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBuildFailedError, ServiceNotReadyError } from '../errors.js';
import { processTree } from '../scenarios/process-tree-sampler.js';
import { configuredService } from './configured-service.js';
import type { ServiceConfig } from './project-config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-configured-service-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const service = (over: Partial<ServiceConfig>): ServiceConfig => ({
  start: 'true',
  env: {},
  ready: '/health',
  baseUrl: 'http://127.0.0.1:${port}',
  readyTimeoutS: 10,
  ...over,
});

/** A server that answers /health and starts a child of its own: a tree, like a worker pool. */
const SERVER = `const http = require('node:http'); require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
http.createServer((q, s) => s.end(q.url === '/health' ? 'ok' : process.env.GREETING)).listen(Number(process.env.PORT), '127.0.0.1');`;

describe('configured service', () => {
  it('starts on a free loopback port with its env, serves, and stops its whole process tree', async () => {
    const system = configuredService(
      service({
        start: `node -e "${SERVER.replaceAll('"', '\\"')}"`,
        env: { GREETING: 'hello' },
        baseUrl: 'http://127.0.0.1:${port}/api',
      }),
      dir,
    );
    const running = await system.start('head');
    expect(running.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    expect(running.metricsUrl).toBeNull();
    expect(await (await fetch(running.baseUrl)).text()).toBe('hello');
    let tree: number[] = [];
    for (let i = 0; i < 50 && tree.length < 3; i++) {
      tree = await processTree(running.pid);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(tree.length).toBeGreaterThanOrEqual(3); // sh, node, its child
    await running.stop();
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie waiting for its reaper: nothing of the tree runs any more.
    for (const pid of tree) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      expect(stat === '' || / Z /.test(stat.slice(stat.lastIndexOf(')'))), `${pid}: ${stat}`).toBe(true);
    }
  });

  it('says the service exited, with its last output lines, when it dies before it is ready', async () => {
    const system = configuredService(
      service({ start: `node -e "console.error('DATABASE_URL is not set'); process.exit(3)"` }),
      dir,
    );
    const err = await system.start('base').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceNotReadyError);
    expect((err as Error).message).toMatch(
      /the base service never became ready: http:\/\/127\.0\.0\.1:\d+\/health was never answered: the service exited with code 3\. Its last output lines:\nDATABASE_URL is not set/,
    );
  });

  it('fails the build with its last output lines', async () => {
    const system = configuredService(
      service({ build: 'echo compiling; echo "error TS2304" >&2; exit 2' }),
      dir,
    );
    const err = await system.build().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceBuildFailedError);
    expect((err as Error).message).toContain(
      'exited with 2. Its last output lines:\ncompiling\nerror TS2304',
    );
  });
});
