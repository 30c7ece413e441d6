import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Processes held on one core until `release` gives each its own cores back. */
export interface OneCorePin {
  core: number;
  /** The cores this process had before, e.g. "0,1". */
  from: string;
  release(): Promise<void>;
}

/**
 * Pins `pids` (every thread of each: the event loop, libuv's pool, V8's helpers) to one core, the
 * lowest this process may use, as `taskset -c 0` does for a whole run. Node has no affinity call,
 * so util-linux's `taskset` does it; without it (or off Linux, or with one core already) the pin
 * is skipped and the reason returned, for the caller to say.
 */
export async function pinToOneCore(pids: number[]): Promise<OneCorePin | { skipped: string }> {
  if (process.platform !== 'linux')
    return { skipped: `CPU affinity is set on Linux only (this is ${process.platform})` };
  const before = new Map<number, string>();
  try {
    for (const pid of pids) before.set(pid, await affinityOf(pid));
  } catch (err) {
    return { skipped: missingTaskset(err) ?? `reading the CPU affinity failed: ${(err as Error).message}` };
  }
  const own = before.get(pids[0]!)!;
  const cores = coreList(own);
  if (cores.length < 2) return { skipped: `only one core (${own}) is available to this process` };
  const core = cores[0]!;
  const release = async () => {
    // Every process back, even when one of them fails (a process may have exited meanwhile).
    const failed: string[] = [];
    for (const [pid, list] of before) {
      await run('taskset', ['-a', '-c', '-p', list, String(pid)]).catch((err: Error) =>
        failed.push(`${pid}: ${err.message}`),
      );
    }
    if (failed.length) throw new Error(`restoring the CPU affinity failed for ${failed.join('; ')}`);
  };
  try {
    for (const pid of pids) await run('taskset', ['-a', '-c', '-p', String(core), String(pid)]);
  } catch (err) {
    await release().catch(() => {});
    return { skipped: missingTaskset(err) ?? `setting the CPU affinity failed: ${(err as Error).message}` };
  }
  return { core, from: own, release };
}

/** The cores `pid` may run on, as taskset lists them ("0-3,6"). */
export async function affinityOf(pid: number): Promise<string> {
  const { stdout } = await run('taskset', ['-c', '-p', String(pid)]);
  const list = stdout.trim().split(': ').at(-1);
  if (!list) throw new Error(`unexpected taskset output: ${stdout.trim()}`);
  return list;
}

/** "0-2,5" → [0, 1, 2, 5]. */
export function coreList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map((x) => Number.parseInt(x, 10));
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) cores.push(c);
  }
  return cores;
}

function missingTaskset(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
    ? 'taskset (util-linux) is not installed: on Debian, apt-get install util-linux'
    : undefined;
}
