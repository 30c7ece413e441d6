export {
  benchmarkCsvIngest,
  type CsvIngestBenchmark,
  type IngestStageFigures,
} from './benchmark-csv-ingest.js';
export { GENERATED_CSV_HEADER, generateCsv } from './csv-generator.js';
export {
  CSV_PARSE_OPTIONS,
  type CsvIngestOptions,
  type CsvIngestSummary,
  DEFAULT_CSV_INGEST_OPTIONS,
  ingestCsv,
} from './csv-ingest.js';
export { MAX_URL_CHARS, normalizeWebsiteUrl, quoteValue } from './website-url.js';
