import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { request } from 'undici';
import { ServiceBuildFailedError, ServiceNotReadyError } from '../errors.js';
import type { ServiceConfig } from './project-config.js';
import type { RunningSystem, SystemUnderTest } from './system-under-test.js';

/** Output lines of the service kept for the error when it does not become ready. */
const OUTPUT_TAIL_LINES = 20;
/** Time between two polls of the ready path. */
const READY_POLL_MS = 100;

/**
 * A team's own service (any language) in a checkout `dir`: `build` runs there once, `start` runs
 * there under `sh -c` with the service's env, `PORT` set to a free loopback port (and `${port}`
 * replaced in the command and base URL). It is ready when its ready path answers 2xx.
 */
export function configuredService(service: ServiceConfig, dir: string): SystemUnderTest {
  return {
    describe: `${service.start} in ${dir}`,
    async build(onProgress) {
      if (!service.build) return;
      onProgress?.(`building in ${dir}: ${service.build}`);
      const { code, tail } = await runShell(service.build, dir, { ...process.env, ...service.env });
      if (code !== 0) throw new ServiceBuildFailedError(dir, service.build, dir, code, tail);
    },
    start: (label) => startService(service, dir, label),
  };
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; released just before the service binds it). */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function startService(service: ServiceConfig, dir: string, label: string): Promise<RunningSystem> {
  const port = await freeLoopbackPort();
  const fill = (text: string) => text.replaceAll('${port}', String(port));
  const baseUrl = fill(service.baseUrl).replace(/\/$/, '');
  const readyUrl = `${new URL(baseUrl).origin}${service.ready}`;
  const child = spawn('sh', ['-c', fill(service.start)], {
    cwd: dir,
    env: { ...process.env, ...service.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: stop() signals the whole tree the command started.
    detached: true,
  });
  const output = new OutputTail();
  child.stdout!.on('data', (d: Buffer) => output.push(d));
  child.stderr!.on('data', (d: Buffer) => output.push(d));
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ? `the service was killed by ${signal}` : `the service exited with code ${code}`;
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopTree(child));
  const deadline = performance.now() + service.readyTimeoutS * 1000;
  let last = 'was never reached';
  try {
    for (;;) {
      if (exited)
        throw new ServiceNotReadyError(label, readyUrl, `was never answered: ${exited}`, output.tail());
      try {
        const res = await request(readyUrl, { headersTimeout: 2_000, bodyTimeout: 2_000 });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) break;
        last = `answered ${res.statusCode}`;
      } catch (err) {
        last = `could not be reached (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      }
      if (performance.now() > deadline)
        throw new ServiceNotReadyError(
          label,
          readyUrl,
          `${last} for ${service.readyTimeoutS} s (service.readyTimeoutS)`,
          output.tail(),
        );
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const metricsUrl = await hasMetrics(`${new URL(baseUrl).origin}/metrics`);
  return { baseUrl, pid: child.pid!, sampleProcessTree: true, metricsUrl, setupUsers: false, stop };
}

/** The service's /metrics when it answers 200 with Prometheus text, else null. */
async function hasMetrics(url: string): Promise<string | null> {
  try {
    const res = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
    const text = await res.body.text();
    return res.statusCode === 200 && /^# (HELP|TYPE) /m.test(text) ? url : null;
  } catch {
    return null;
  }
}

/** SIGTERM to the service's process group, then SIGKILL if it has not exited within 5 s. */
async function stopTree(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // the group is gone already
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  signal('SIGKILL'); // children that outlived their parent
}

/** The last lines a process wrote, bounded in memory. */
class OutputTail {
  private text = '';
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString()).slice(-16_384);
  }
  tail(): string {
    return this.text.trimEnd().split('\n').slice(-OUTPUT_TAIL_LINES).join('\n');
  }
}

/** Runs a shell command in `cwd`, keeping the last output lines. */
function runShell(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = new OutputTail();
    child.stdout.on('data', (d: Buffer) => output.push(d));
    child.stderr.on('data', (d: Buffer) => output.push(d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, tail: output.tail() }));
  });
}
