import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ConfigInvalidError } from '../../errors.js';
import { forkModule } from '../child-module.js';
import { type LlmSimulatorOptions, type LlmSimulatorStats, startLlmSimulator } from './llm-simulator.js';
import { type SiteFarmOptions, type SiteFarmStats, siteUrlFor, startSiteFarm } from './site-farm.js';

/** Options of both simulators. */
export interface SimulatorsOptions {
  siteFarm?: SiteFarmOptions;
  llm?: LlmSimulatorOptions;
}

/** Resource use of the process running the simulators, and their counters. */
export interface SimulatorsUsage {
  /** CPU time since the process started, in microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  maxRssBytes: number;
  siteFarm: SiteFarmStats;
  llm: LlmSimulatorStats;
}

/** The site farm and the LLM simulator, running in a child process (or in this one, for tests). */
export interface RunningSimulators {
  siteFarm: { url: string; port: number; hostSuffix: string; sites: number };
  llm: { baseUrl: string; port: number };
  /** The process the simulators run in. */
  pid: number;
  /** The same formula as `SiteFarm.siteUrl`. */
  siteUrl(row: number): string;
  usage(): Promise<SimulatorsUsage>;
  /** Graceful; a child that does not exit within a few seconds is killed. */
  close(): Promise<void>;
}

/** What a child reports once its servers listen. */
export interface SimulatorsAddresses {
  siteFarm: RunningSimulators['siteFarm'];
  llm: RunningSimulators['llm'];
}

/** Messages from the parent to the simulator child. */
export type SimulatorRequest = { type: 'usage'; id: number } | { type: 'close' };

/** Messages from the simulator child to the parent. */
export type SimulatorReply =
  | { type: 'ready'; addresses: SimulatorsAddresses }
  | { type: 'failed'; message: string; config?: { source: string; problems: string[] } }
  | { type: 'usage'; id: number; usage: SimulatorsUsage };

/** A child that ignores the close request is killed after this long. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Starts both simulators in this process. The demo and benchmarks use `spawnSimulators` instead,
 * so that the simulators' CPU is spent (and measured) apart from the pipeline's.
 */
export async function startSimulators(opts: SimulatorsOptions = {}): Promise<RunningSimulators> {
  const siteFarm = await startSiteFarm(opts.siteFarm);
  let llm: Awaited<ReturnType<typeof startLlmSimulator>>;
  try {
    llm = await startLlmSimulator(opts.llm);
  } catch (err) {
    await siteFarm.close();
    throw err;
  }
  const sites = opts.siteFarm?.sites ?? 1000;
  let closing: Promise<void> | undefined;
  return {
    siteFarm: { url: siteFarm.url, port: siteFarm.port, hostSuffix: siteFarm.hostSuffix, sites },
    llm: { baseUrl: llm.baseUrl, port: llm.port },
    pid: process.pid,
    siteUrl: (row) => siteFarm.siteUrl(row),
    usage: async () => {
      const cpu = process.cpuUsage();
      return {
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        rssBytes: process.memoryUsage.rss(),
        // maxRSS is in kilobytes.
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        siteFarm: siteFarm.stats(),
        llm: llm.stats(),
      };
    },
    close: () => {
      closing ??= Promise.all([siteFarm.close(), llm.close()]).then(() => undefined);
      return closing;
    },
  };
}

/** Starts both simulators in a child process (with IPC) and resolves once they listen. */
export async function spawnSimulators(opts: SimulatorsOptions = {}): Promise<RunningSimulators> {
  const child = forkModule(new URL('./simulator-child.js', import.meta.url), [JSON.stringify(opts)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  let addresses: SimulatorsAddresses;
  try {
    addresses = await waitForReady(child);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw err;
  }

  const pending = new Map<
    number,
    { resolve: (usage: SimulatorsUsage) => void; reject: (err: Error) => void }
  >();
  let nextId = 1;
  let exitedEarly: Error | undefined;
  child.on('message', (reply: SimulatorReply) => {
    if (reply.type !== 'usage') return;
    pending.get(reply.id)?.resolve(reply.usage);
    pending.delete(reply.id);
  });
  child.once('exit', (code, signal) => {
    exitedEarly = new Error(`the simulator process ${child.pid} exited (code ${code}, signal ${signal})`);
    for (const waiter of pending.values()) waiter.reject(exitedEarly);
    pending.clear();
  });

  const { siteFarm } = addresses;
  let closing: Promise<void> | undefined;
  return {
    ...addresses,
    pid: child.pid!,
    siteUrl: (row) => siteUrlFor(row, siteFarm.sites, siteFarm.hostSuffix, siteFarm.port),
    usage: () =>
      new Promise<SimulatorsUsage>((resolve, reject) => {
        if (exitedEarly) {
          reject(exitedEarly);
          return;
        }
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ type: 'usage', id } satisfies SimulatorRequest);
      }),
    close: () => {
      closing ??= closeChild(child, exited);
      return closing;
    },
  };
}

function waitForReady(child: ChildProcess): Promise<SimulatorsAddresses> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: SimulatorReply) => {
      if (reply.type === 'ready') {
        cleanup();
        resolve(reply.addresses);
      } else if (reply.type === 'failed') {
        cleanup();
        reject(
          reply.config
            ? new ConfigInvalidError(reply.config.source, reply.config.problems)
            : new Error(`the simulators failed to start: ${reply.message}`),
        );
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(`the simulator process exited before it was ready (code ${code}, signal ${signal})`));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`the simulator process could not start: ${err.message}`, { cause: err }));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

async function closeChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.send({ type: 'close' } satisfies SimulatorRequest);
  const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
