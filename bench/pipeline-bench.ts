/**
 * npm run bench:pipeline [-- --ingest-rows N --e2e-rows N --stage-rows N]
 *
 * Prints, for this machine: the CSV ingest rate (500,000 rows through the HTTP API), the CPU time
 * per row of each stage and process (stages run one at a time on a sample), and the end-to-end
 * rate, duration and peak memory of a full run on the embedded defaults with default simulators.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ApiClient } from '../pipeline/api/api-client.js';
import { runDemo } from '../pipeline/demo.js';
import { generateCsv } from '../pipeline/ingest/csv-generator.js';
import { startPipeline } from '../pipeline/pipeline.js';
import { spawnSimulators } from '../pipeline/sim/simulator-process.js';

const { values } = parseArgs({
  options: {
    'ingest-rows': { type: 'string', default: '500000' },
    'stage-rows': { type: 'string', default: '20000' },
    'e2e-rows': { type: 'string', default: '100000' },
  },
});
const ingestRows = Number(values['ingest-rows']);
const stageRows = Number(values['stage-rows']);
const e2eRows = Number(values['e2e-rows']);

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function withTempStore<T>(fn: (store: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-bench-'));
  try {
    return await fn(`sqlite:${path.join(dir, 'bench.db')}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Ingest alone: the upload request parses, validates and inserts every row before it answers. */
async function benchIngest(): Promise<void> {
  await withTempStore(async (store) => {
    const pipeline = await startPipeline({
      store,
      workers: false,
      http: { port: 0 },
      auth: { scryptCost: 1024 },
    });
    const api = new ApiClient(pipeline.apiUrl);
    try {
      await api.register('bench@example.com', 'password1');
      await api.login('bench@example.com', 'password1');
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const receipt = await api.upload(
        generateCsv(ingestRows, (i) => `https://site-${i % 1000}.example.com/company/${i}`),
      );
      const wallMs = performance.now() - t0;
      const cpu = cpuMs(process.cpuUsage(cpu0));
      console.log(`CSV ingest, ${fmt(ingestRows)} rows through POST /uploads (SQLite, batches of 1,000):`);
      console.log(
        `  server-side ingest  ${fmt(receipt.ingestMs)} ms  → ${fmt((receipt.rows * 1000) / receipt.ingestMs)} rows/s   (target ≥ 50,000)`,
      );
      console.log(`  request wall time   ${fmt(wallMs)} ms  → ${fmt((receipt.rows * 1000) / wallMs)} rows/s`);
      console.log(
        `  CPU (API + CSV client, one process) ${fmt((cpu * 1000) / receipt.rows, 2)} µs/row; accepted ${fmt(receipt.accepted)}`,
      );
    } finally {
      await api.close();
      await pipeline.close();
    }
  });
}

/** Stages one at a time on the same rows, so each one's CPU per row can be read on its own. */
async function benchStages(): Promise<void> {
  await withTempStore(async (store) => {
    const sims = await spawnSimulators();
    const suffix = sims.siteFarm.hostSuffix;
    const pipeline = await startPipeline({
      store,
      workers: false,
      http: { port: 0 },
      auth: { scryptCost: 1024 },
      scraper: { allowHosts: [`*.${suffix}`], resolve: { [`*.${suffix}`]: '127.0.0.1' } },
      llm: { baseUrl: sims.llm.baseUrl, model: 'headroom-sim-1' },
    });
    const api = new ApiClient(pipeline.apiUrl);
    try {
      await api.register('bench@example.com', 'password1');
      await api.login('bench@example.com', 'password1');
      const rows: Array<[string, number, number, number]> = [];
      const measure = async (stage: string, run: () => Promise<void>) => {
        const cpu0 = process.cpuUsage();
        const sim0 = await sims.usage();
        const t0 = performance.now();
        await run();
        const wallMs = performance.now() - t0;
        const cpu = cpuMs(process.cpuUsage(cpu0));
        const sim1 = await sims.usage();
        const simCpu = (sim1.cpuUserUs - sim0.cpuUserUs + sim1.cpuSystemUs - sim0.cpuSystemUs) / 1000;
        rows.push([stage, cpu / stageRows, simCpu / stageRows, wallMs]);
      };
      let uploadId = 0;
      await measure('ingest', async () => {
        uploadId = (await api.upload(generateCsv(stageRows, (i) => sims.siteUrl(i)))).id;
      });
      await measure('scrape', async () => {
        pipeline.startWorkers(['file_processing', 'scraping']);
        for (;;) {
          const u = await api.getUpload(uploadId);
          if (u.scrape.done + u.scrape.failed >= u.ingest.accepted) break;
          await sleep(100);
        }
      });
      await measure('ai', async () => {
        pipeline.startWorkers(['ai_processing']);
        for (;;) {
          const u = await api.getUpload(uploadId);
          if (u.status === 'completed') break;
          await sleep(100);
        }
      });
      console.log(
        `\nCPU per row by stage (${fmt(stageRows)} rows, one stage at a time, default simulators):`,
      );
      console.log('  stage     pipeline µs/row   simulators µs/row   wall s');
      let totalPipeline = 0;
      let totalSims = 0;
      for (const [stage, p, s, wall] of rows) {
        totalPipeline += p;
        totalSims += s;
        console.log(
          `  ${stage.padEnd(8)}  ${fmt(p * 1000).padStart(15)}   ${fmt(s * 1000).padStart(17)}   ${fmt(wall / 1000, 1).padStart(6)}`,
        );
      }
      console.log(
        `  total     ${fmt(totalPipeline * 1000).padStart(15)}   ${fmt(totalSims * 1000).padStart(17)}`,
      );
      console.log(
        '  (scrape: site farm serves pages; ai: LLM simulator answers; the ingest row includes the CSV client)',
      );
    } finally {
      await api.close();
      await pipeline.close();
      await sims.close();
    }
  });
}

async function benchEndToEnd(): Promise<void> {
  let lastLog = 0;
  const r = await runDemo({
    rows: e2eRows,
    onProgress: (p) => {
      if (!p.upload || p.elapsedMs - lastLog < 15_000) return;
      lastLog = p.elapsedMs;
      const u = p.upload;
      console.log(
        `  … ${fmt(p.elapsedMs / 1000)} s: scraped ${fmt(u.scrape.done)}, messages ${fmt(u.ai.done)}, failed ${fmt(u.scrape.failed + u.ai.failed)}`,
      );
    },
  });
  const eightMinuteRate = 500_000 / 480;
  console.log(
    `\nEnd to end, ${fmt(r.rows)} rows, embedded defaults (SQLite + in-process queue), default simulators:`,
  );
  console.log(
    `  ${fmt(r.durationMs / 1000, 1)} s, ${fmt(r.rowsPerSecond)} rows/s   (target ≥ ${fmt(eightMinuteRate)} rows/s: 500,000 rows in 8 min)`,
  );
  console.log(`  500,000 rows at this rate: ${fmt(500_000 / r.rowsPerSecond / 60, 1)} min`);
  console.log(
    `  outcome: ${fmt(r.messages)} messages, ${fmt(r.failed)} failed, ${fmt(r.lost)} lost, ${fmt(r.duplicated)} duplicated`,
  );
  console.log(
    `  stages finished at: ingest ${fmt(r.stages.ingest.durationMs / 1000, 1)} s, scrape ${fmt(r.stages.scrape.durationMs / 1000, 1)} s, ai ${fmt(r.stages.ai.durationMs / 1000, 1)} s`,
  );
  console.log(
    `  CPU per row: pipeline ${fmt(r.processes.pipeline.cpuMsPerRow * 1000)} µs, simulators ${fmt(r.processes.simulators.cpuMsPerRow * 1000)} µs`,
  );
  console.log(
    `  peak RSS: pipeline ${fmt(r.processes.pipeline.maxRssBytes / 2 ** 20)} MB, simulators ${fmt(r.processes.simulators.maxRssBytes / 2 ** 20)} MB`,
  );
}

console.log(
  `headroom bench:pipeline on ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${fmt(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`,
);
console.log('The load generator, simulators, pipeline and SQLite all share these cores.\n');
if (ingestRows > 0) await benchIngest();
if (stageRows > 0) await benchStages();
if (e2eRows > 0) await benchEndToEnd();
