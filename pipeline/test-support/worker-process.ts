import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** A child process whose output (stdout and stderr together) a test can read. */
export type WorkerProcess = ChildProcess & { output: () => string };

/**
 * Where a started thing registers its stop: vitest's `onTestFinished` in a test, a stack a bench
 * unwinds at its end (this module runs outside vitest too).
 */
export type Defer = (stop: () => void | Promise<void>) => void;

/**
 * Starts a process for the length of the test: its output kept, and stopped when the test ends
 * (`SIGTERM` first, when asked, so it can finish cleanly; `SIGKILL` after 5 s or at once).
 */
export function spawnCaptured(
  command: string,
  args: string[],
  defer: Defer,
  opts: { cwd?: string; env?: Record<string, string>; graceful?: boolean } = {},
): WorkerProcess {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output += d;
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.once('error', (err) => {
    output += `\n${command}: ${err.message}`;
  });
  defer(async () => {
    if (child.exitCode !== null) return;
    if (opts.graceful) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5_000)]);
    }
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { output: () => output });
}

/** `headroom pipeline worker …` as its own process, through the real CLI; killed after the test. */
export function spawnWorker(args: string[], defer: Defer): WorkerProcess {
  const bin = fileURLToPath(new URL('../../cli/bin.ts', import.meta.url));
  return spawnCaptured(process.execPath, ['--import', 'tsx', bin, 'pipeline', 'worker', ...args], defer);
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
