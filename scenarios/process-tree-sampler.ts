import { readdir, readFile } from 'node:fs/promises';
import type { ProcessTreeSample } from '../results/process-tree-sample.js';

/**
 * Kernel clock ticks per second (`getconf CLK_TCK`) and page size. Linux fixes USER_HZ at 100 on
 * every architecture Node runs on, and 4 KiB pages on x86-64 and most arm64 kernels; a kernel with
 * other pages would show RSS scaled by a constant factor, the same on both sides of a comparison.
 */
const CLOCK_TICKS_PER_S = 100;
const PAGE_BYTES = 4096;

/** The pids of `root` and all its descendants (through /proc/<pid>/task/<tid>/children). */
export async function processTree(root: number): Promise<number[]> {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    let tasks: string[];
    try {
      tasks = await readdir(`/proc/${pid}/task`);
    } catch {
      continue; // exited between two reads
    }
    seen.push(pid);
    for (const tid of tasks) {
      const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const child of text.split(' ')) if (child.trim()) queue.push(Number(child));
    }
  }
  return seen;
}

/** CPU seconds and resident bytes of one process from /proc/<pid>/stat, or undefined when it has exited. */
async function readProcess(pid: number): Promise<{ cpuSeconds: number; rssBytes: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, so field N is at index N − 3 (utime 14, stime 15, rss 24).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_S, rssBytes: rssPages * PAGE_BYTES };
}

/** Reads the whole tree once. */
export async function readProcessTree(root: number): Promise<Omit<ProcessTreeSample, 'tSec'>> {
  const pids = await processTree(root);
  let cpuSeconds = 0;
  let rssBytes = 0;
  let processes = 0;
  for (const p of await Promise.all(pids.map(readProcess))) {
    if (!p) continue;
    cpuSeconds += p.cpuSeconds;
    rssBytes += p.rssBytes;
    processes++;
  }
  return { cpuSeconds, rssBytes, processes };
}

/**
 * Samples the process tree under `root` every `intervalMs` while a trial runs. CPU per request
 * comes from the first and last reading; peak RSS from the largest, so the interval is short
 * (memory held for the length of one request shows up in a 100 ms sampling).
 */
export function startProcessTreeSampler(
  root: number,
  opts: { intervalMs?: number } = {},
): { stop(): Promise<ProcessTreeSample[]> } {
  const intervalMs = opts.intervalMs ?? 100;
  const samples: ProcessTreeSample[] = [];
  const startMs = performance.now();
  let running = true;
  const read = async () => {
    const reading = await readProcessTree(root);
    if (reading.processes > 0)
      samples.push({ tSec: Math.round(performance.now() - startMs) / 1000, ...reading });
  };
  const loop = (async () => {
    while (running) {
      const next = performance.now() + intervalMs;
      await read();
      const waitMs = next - performance.now();
      if (waitMs > 0 && running) await new Promise((r) => setTimeout(r, waitMs));
    }
    await read(); // the last reading closes the CPU window at the end of the trial
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}
