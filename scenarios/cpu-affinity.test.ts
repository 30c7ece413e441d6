import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { affinityOf, coreList, pinToOneCore } from './cpu-affinity.js';

/** The cores each thread of `pid` may run on, from /proc (what the kernel enforces). */
async function threadAffinities(pid: number): Promise<string[]> {
  const tasks = await readdir(`/proc/${pid}/task`);
  return Promise.all(
    tasks.map(async (t) => {
      const status = await readFile(`/proc/${pid}/task/${t}/status`, 'utf8');
      return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)![1]!;
    }),
  );
}

describe('coreList', () => {
  it('expands the ranges taskset and /proc print', () => {
    expect(coreList('0')).toEqual([0]);
    expect(coreList('0,1')).toEqual([0, 1]);
    expect(coreList('0-2,5,7-8')).toEqual([0, 1, 2, 5, 7, 8]);
  });
});

describe('pinToOneCore', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }
    child = undefined;
  });

  it("pins every thread of each process to this process's first core, and gives the cores back", async () => {
    // A Node child has several threads (libuv's pool, V8's helpers): each must move.
    child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const pid = child.pid!;
    const own = await affinityOf(process.pid);
    const pin = await pinToOneCore([process.pid, pid]);
    if (coreList(own).length < 2) {
      // A one-core host (or a run under taskset -c N): nothing to pin, and the reason says so.
      expect(pin).toEqual({ skipped: expect.stringContaining('only one core') });
      return;
    }
    if ('skipped' in pin) throw new Error(`not pinned: ${pin.skipped}`);
    expect(pin.core).toBe(coreList(own)[0]);
    expect(pin.from).toBe(own);
    for (const list of await threadAffinities(pid)) expect(list).toBe(String(pin.core));
    for (const list of await threadAffinities(process.pid)) expect(list).toBe(String(pin.core));
    await pin.release();
    for (const list of [...(await threadAffinities(pid)), ...(await threadAffinities(process.pid))])
      expect(coreList(list)).toEqual(coreList(own));
  });

  it('says why when a process cannot be pinned, and leaves the others as they were', async () => {
    const own = await affinityOf(process.pid);
    // PID 2^22 + 1 is above Linux's largest PID: no such process.
    const pin = await pinToOneCore([process.pid, 4_194_305]);
    expect(pin).toEqual({ skipped: expect.stringMatching(/CPU affinity failed|only one core/) });
    expect(coreList(await affinityOf(process.pid))).toEqual(coreList(own));
  });
});
