/**
 * npm run bench:scale [-- --rows N --workers 1,2,4 --concurrency C]
 *
 * End-to-end rows/min of the distributed pipeline (PostgreSQL + BullMQ on Redis) with 1, 2 and 4
 * worker processes: the same rows and simulator settings each time, the API in this process, the
 * simulators in a child process, each worker a `headroom pipeline worker` process with the same
 * concurrency. Prints each figure and its ratio to one process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ApiClient } from '../pipeline/api/api-client.js';
import { generateCsv } from '../pipeline/ingest/csv-generator.js';
import { startPipeline } from '../pipeline/pipeline.js';
import { spawnSimulators } from '../pipeline/sim/simulator-process.js';
import { freshPostgres, freshRedis } from '../pipeline/test-support/test-services.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    workers: { type: 'string', default: '1,2,4' },
    concurrency: { type: 'string', default: '300' },
  },
});
const rows = Number(values.rows);
const counts = values.workers.split(',').map(Number);
const concurrency = values.concurrency;

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The compiled CLI when there is one (no TypeScript loader per worker), else the sources through tsx. */
function workerCommand(): string[] {
  const compiled = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
  if (existsSync(compiled) && !import.meta.url.endsWith('.ts')) return [compiled];
  return ['--import', 'tsx', fileURLToPath(new URL('../cli/bin.ts', import.meta.url))];
}

async function trial(workers: number): Promise<{ rowsPerMin: number; seconds: number; lost: number }> {
  const pg = await freshPostgres();
  const redis = await freshRedis();
  const sims = await spawnSimulators();
  const suffix = sims.siteFarm.hostSuffix;
  const api = await startPipeline({
    store: pg.url,
    queue: redis.url,
    workers: false,
    http: { port: 0 },
    logLevel: 'warn',
    auth: { scryptCost: 1024 },
  });
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      const child = spawn(
        process.execPath,
        [
          ...workerCommand(),
          'pipeline',
          'worker',
          '--store',
          pg.url,
          '--queue',
          redis.url,
          '--concurrency',
          concurrency,
          '--llm-base-url',
          sims.llm.baseUrl,
          '--allow-host',
          `*.${suffix}`,
          '--resolve',
          `*.${suffix}=127.0.0.1`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
      children.push(child);
    }
    const client = new ApiClient(api.apiUrl);
    await client.register('scale@example.com', 'password1');
    await client.login('scale@example.com', 'password1');
    const t0 = performance.now();
    const receipt = await client.upload(generateCsv(rows, (i) => sims.siteUrl(i)));
    while ((await client.getUpload(receipt.id)).status !== 'completed') await sleep(250);
    const seconds = (performance.now() - t0) / 1000;
    const tally = await api.store.tallyUpload(receipt.id);
    await client.close();
    return { rowsPerMin: (rows / seconds) * 60, seconds, lost: tally.lost };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))),
    );
    await api.close();
    await sims.close();
    await pg.drop();
    await redis.drop();
  }
}

console.log(
  `headroom bench:scale on ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, Node ${process.version}`,
);
console.log(
  `PostgreSQL + BullMQ, ${fmt(rows)} rows per trial, default simulators, concurrency ${concurrency} per queue per worker.\n` +
    `This machine has ${os.availableParallelism()} cores shared by the simulators, the API, the workers, PostgreSQL and Redis:\n` +
    'past the point where they saturate, more processes cannot add throughput here.\n',
);
const results: Array<[number, Awaited<ReturnType<typeof trial>>]> = [];
for (const n of counts) {
  const r = await trial(n);
  results.push([n, r]);
  console.log(
    `  ${n} worker process${n === 1 ? ' ' : 'es'}: ${fmt(r.rowsPerMin)} rows/min (${fmt(r.seconds, 1)} s, lost ${r.lost})`,
  );
}
const base = results.find(([n]) => n === 1)?.[1].rowsPerMin ?? results[0]![1].rowsPerMin;
console.log('\n  workers   rows/min   ratio to 1');
for (const [n, r] of results)
  console.log(
    `  ${String(n).padStart(7)}   ${fmt(r.rowsPerMin).padStart(8)}   ${fmt(r.rowsPerMin / base, 2).padStart(10)}`,
  );
