import { startEmbeddedTarget } from '../scenarios/embedded-target.js';
import type { RunningSystem, SystemUnderTest } from './system-under-test.js';

/**
 * headroom's own reference pipeline as a system under test: this build's, or the build of another
 * checkout (`cliEntry`, e.g. a ref's worktree). Its resources come from its /metrics, as before.
 */
export function referencePipeline(opts: {
  cliEntry?: URL;
  args?: string[];
  describe: string;
}): SystemUnderTest {
  return {
    describe: opts.describe,
    async build() {},
    async start(): Promise<RunningSystem> {
      const target = await startEmbeddedTarget({
        ...(opts.cliEntry ? { cliEntry: opts.cliEntry } : {}),
        ...(opts.args ? { args: opts.args } : {}),
      });
      return {
        baseUrl: target.apiUrl,
        pid: target.pid,
        sampleProcessTree: false,
        metricsUrl: `${target.apiUrl}/metrics`,
        setupUsers: true,
        stop: () => target.close(),
      };
    },
  };
}
