import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

/** `headroom pipeline worker …` as its own process, through the real CLI; killed after the test. */
export type WorkerProcess = ChildProcess & { output: () => string };

export function spawnWorker(args: string[]): WorkerProcess {
  const bin = fileURLToPath(new URL('../../cli/bin.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', bin, 'pipeline', 'worker', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { output: () => output });
}

/** Waits until the worker says it serves its queues; fails with its output if it exits or takes a minute. */
export async function workerStarted(worker: WorkerProcess): Promise<void> {
  const start = Date.now();
  while (!worker.output().includes('serving')) {
    if (worker.exitCode !== null || Date.now() - start > 60_000)
      throw new Error(`worker did not start: ${worker.output()}`);
    await sleep(50);
  }
}
