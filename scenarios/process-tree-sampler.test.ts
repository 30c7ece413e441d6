import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { processTree, readProcessTree, startProcessTreeSampler } from './process-tree-sampler.js';

/** A shell that starts a grandchild which burns CPU and holds 64 MiB: the tree a `start` command makes. */
function startTree() {
  const script = `const b = Buffer.alloc(64 << 20, 1); const end = Date.now() + 60000; let x = 0;
    setInterval(() => { const t = Date.now() + 80; while (Date.now() < t) x += b[x % b.length]; }, 100);`;
  const child = spawn('sh', ['-c', `node -e '${script}' & wait`], { stdio: 'ignore', detached: true });
  onTestFinished(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  });
  return child;
}

describe('process tree sampler', () => {
  it('reads CPU seconds and RSS of every process under the root, grandchildren included', async () => {
    const child = startTree();
    let tree: number[] = [];
    for (let i = 0; i < 50 && tree.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      tree = await processTree(child.pid!);
    }
    expect(tree[0]).toBe(child.pid);
    expect(tree.length).toBe(2);
    await new Promise((r) => setTimeout(r, 500));
    const sampler = startProcessTreeSampler(child.pid!, { intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 1_500));
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(5);
    const cpu = samples[samples.length - 1]!.cpuSeconds - samples[0]!.cpuSeconds;
    // The grandchild is busy 80 ms in every 100 ms; the machine is shared, so only a floor is safe.
    expect(cpu).toBeGreaterThan(0.3);
    expect(Math.max(...samples.map((s) => s.rssBytes))).toBeGreaterThan(64 << 20);
    expect(samples.every((s) => s.processes === 2)).toBe(true);
  });

  it('reads nothing of a process that is gone', async () => {
    expect(await readProcessTree(2 ** 22 + 12345)).toEqual({ cpuSeconds: 0, rssBytes: 0, processes: 0 });
  });
});
