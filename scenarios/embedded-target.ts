import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { forkModule } from '../pipeline/child-module.js';

/** The reference pipeline started for a run, in a process of its own. */
export interface EmbeddedTarget {
  /** e.g. http://127.0.0.1:41234/api/v1 */
  apiUrl: string;
  pid: number;
  close(): Promise<void>;
}

export interface EmbeddedTargetOptions {
  /** Extra `headroom pipeline start` flags, e.g. ['--admin', '--inject-leak', '65536']. */
  args?: string[];
  /** Store URL; default a SQLite file in a temporary folder, removed on close. */
  store?: string;
  startTimeoutMs?: number;
  /**
   * The `headroom` CLI entry to start (e.g. `dist/cli/bin.js` of another build, such as a git
   * worktree of the base commit); default this build's.
   */
  cliEntry?: URL;
}

/**
 * Starts the reference pipeline as a child process (`headroom pipeline start --port 0`), so the
 * load generator and the target do not share an event loop: a busy generator would otherwise
 * show up as target latency, and the target's heap would include the generator's.
 */
export async function startEmbeddedTarget(opts: EmbeddedTargetOptions = {}): Promise<EmbeddedTarget> {
  const dir = opts.store ? undefined : await mkdtemp(path.join(os.tmpdir(), 'headroom-target-'));
  const store = opts.store ?? `sqlite:${path.join(dir!, 'target.db')}`;
  const child = forkModule(
    opts.cliEntry ?? new URL('../cli/bin.js', import.meta.url),
    ['pipeline', 'start', '--port', '0', '--store', store, ...(opts.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const cleanUp = async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    const apiUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `the embedded pipeline did not start within ${opts.startTimeoutMs ?? 60_000} ms:\n${output}`,
            ),
          ),
        opts.startTimeoutMs ?? 60_000,
      );
      const onData = () => {
        const m = /API on (http:\/\/\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the embedded pipeline exited with code ${code}:\n${output}`));
      });
    });
    let closing: Promise<void> | undefined;
    return { apiUrl, pid: child.pid!, close: () => (closing ??= stop(child).then(cleanUp)) };
  } catch (err) {
    child.kill('SIGKILL');
    await cleanUp();
    throw err;
  }
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
