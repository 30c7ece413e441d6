import { Parser } from 'csv-parse';
import { ConfigInvalidError } from '../../errors.js';
import { CSV_PARSE_OPTIONS, ingestCsv } from './csv-ingest.js';

/** Throughput of one measured stage, the median over the trials. */
export interface IngestStageFigures {
  wallMs: number;
  /** CPU time of the whole process (user + system), which includes the garbage collector's threads. */
  cpuMs: number;
  rowsPerS: number;
  /** Rows per CPU-second: steadier than wall time on a machine that other work shares. */
  rowsPerCpuS: number;
}

/** Parse-only and parse-plus-validate throughput of {@link ingestCsv} on the same in-memory CSV. */
export interface CsvIngestBenchmark {
  rows: number;
  bytes: number;
  trials: number;
  /** csv-parse alone, with the options ingestCsv uses, records read and dropped. */
  parseOnly: IngestStageFigures;
  /** ingestCsv with an `onBatch` that does nothing: parse, validate, normalise, de-duplicate. */
  ingest: IngestStageFigures;
}

/**
 * Measures CSV ingest on `rows` rows shaped like a real upload
 * (`https://site-123.sites.test:41234/company/123,Company 123,Jane Doe,jane@example.com,some notes`),
 * built in memory first so that producing them is not timed. Trials of the two stages are
 * interleaved so that a burst of load from elsewhere hits both alike.
 */
export async function benchmarkCsvIngest(opts?: {
  rows?: number;
  trials?: number;
}): Promise<CsvIngestBenchmark> {
  const rows = opts?.rows ?? 500_000;
  const trials = opts?.trials ?? 5;
  if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(trials) || trials < 1) {
    throw new ConfigInvalidError('benchmarkCsvIngest', [
      `rows and trials must be positive integers (got ${rows}, ${trials})`,
    ]);
  }
  const chunks = buildCsv(rows);
  const parseOnly: Sample[] = [];
  const ingest: Sample[] = [];
  for (let trial = 0; trial < trials; trial++) {
    parseOnly.push(await measure(() => parseAlone(chunks), rows));
    ingest.push(await measure(() => ingestAll(chunks), rows));
  }
  return {
    rows,
    bytes: chunks.reduce((sum, chunk) => sum + chunk.length, 0),
    trials,
    parseOnly: median(parseOnly, rows),
    ingest: median(ingest, rows),
  };
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function measure(run: () => Promise<number>, rows: number): Promise<Sample> {
  const cpu = process.cpuUsage();
  const startedMs = performance.now();
  const seen = await run();
  const wallMs = performance.now() - startedMs;
  const used = process.cpuUsage(cpu);
  if (seen !== rows) throw new Error(`benchmark saw ${seen} rows instead of ${rows}`);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

function median(samples: Sample[], rows: number): IngestStageFigures {
  const middle = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const wallMs = middle(samples.map((s) => s.wallMs));
  const cpuMs = middle(samples.map((s) => s.cpuMs));
  return { wallMs, cpuMs, rowsPerS: (rows * 1000) / wallMs, rowsPerCpuS: (rows * 1000) / cpuMs };
}

function buildCsv(rows: number): Buffer[] {
  const chunks: Buffer[] = [];
  let text = 'website,company,name,email,notes\n';
  for (let i = 0; i < rows; i++) {
    text += `https://site-${i}.sites.test:41234/company/${i},Company ${i},Jane Doe,jane@example.com,some notes\n`;
    if (text.length >= 64 * 1024) {
      chunks.push(Buffer.from(text));
      text = '';
    }
  }
  if (text.length > 0) chunks.push(Buffer.from(text));
  return chunks;
}

async function* replay(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

async function ingestAll(chunks: Buffer[]): Promise<number> {
  const summary = await ingestCsv(replay(chunks), async () => {});
  return summary.accepted;
}

/** The parser driven the way ingestCsv drives it, minus the per-row work. Returns data rows. */
async function parseAlone(chunks: Buffer[]): Promise<number> {
  const parser = new Parser({ ...CSV_PARSE_OPTIONS });
  let records = 0;
  const drain = () => {
    while (parser.read() !== null) records++;
  };
  for (const chunk of chunks) {
    const written = new Promise((resolve) => parser.write(chunk, resolve));
    drain();
    await written;
    drain();
  }
  const ended = new Promise((resolve) => parser.end(resolve));
  drain();
  await ended;
  drain();
  return records - 1;
}
