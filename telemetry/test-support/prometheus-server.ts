import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A real Prometheus (Debian's `prometheus`) on a loopback port, scraping the given /metrics URLs. */
export interface PrometheusServer {
  url: string;
  close(): Promise<void>;
}

const INSTALL = 'apt-get install -y prometheus (Debian; .ci/run installs it)';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts Prometheus with a generated scrape config (`targets`: the metrics URLs, each scraped every
 * `scrapeIntervalS`) and a data folder of its own, and waits until it is ready. A missing
 * binary is a failure that says how to install it, never a skip.
 */
export async function startPrometheus(opts: {
  targets: string[];
  scrapeIntervalS?: number;
}): Promise<PrometheusServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-prometheus-'));
  const interval = `${opts.scrapeIntervalS ?? 1}s`;
  // One job per target: each has its own metrics path (the API's is under /api/v1).
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    ...opts.targets.flatMap((target, i) => {
      const u = new URL(target);
      return [
        `  - job_name: target-${i}`,
        `    metrics_path: '${u.pathname}'`,
        '    static_configs:',
        `      - targets: ['${u.host}']`,
      ];
    }),
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  const started = Date.now();
  for (;;) {
    const failed = await Promise.race([spawnError, sleep(200).then(() => null)]);
    if (failed) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`cannot start prometheus (${failed.message}); install it: ${INSTALL}`);
    }
    if (child.exitCode !== null) {
      await close();
      throw new Error(`prometheus exited with ${child.exitCode}:\n${output.slice(-2000)}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, close };
    if (Date.now() - started > 30_000) {
      await close();
      throw new Error(`prometheus did not become ready in 30 s:\n${output.slice(-2000)}`);
    }
  }
}
