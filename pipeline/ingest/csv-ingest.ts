import type { TransformOptions } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { type CsvError, type Options, Parser } from 'csv-parse';
import { ConfigInvalidError, CsvInvalidError, CsvTooLargeError } from '../../errors.js';
import type { NewWebsite, RowRejection } from '../store/store.js';
import { normalizeWebsiteUrl, quoteValue } from './website-url.js';

/** Limits of one CSV upload. */
export interface CsvIngestOptions {
  /** Uploads larger than this are refused with CsvTooLargeError; nothing after the limit is read. */
  maxBytes: number;
  /** Rows per `onBatch` call. */
  batchSize: number;
  /** Rejections beyond this many are counted but not listed. */
  maxRejectionsReported: number;
}

/** Defaults of {@link CsvIngestOptions}. */
export const DEFAULT_CSV_INGEST_OPTIONS: Readonly<CsvIngestOptions> = Object.freeze({
  maxBytes: 200 * 1024 * 1024,
  batchSize: 1000,
  maxRejectionsReported: 1000,
});

/** What one ingest did. `rows` counts data rows (accepted + rejected); blank lines are not rows. */
export interface CsvIngestSummary {
  rows: number;
  accepted: number;
  rejected: number;
  /** The first `maxRejectionsReported` rejections, in file order. */
  rejections: RowRejection[];
  bytes: number;
  durationMs: number;
}

// A NUL byte never occurs in CSV text; git uses the same test on the first 8,000 bytes to call a
// file binary. The window is small enough that a junk row further down is rejected on its own.
const SNIFF_BYTES = 8000;

// Input is handed to the parser in slices of this size so that one huge chunk cannot pile up
// thousands of rows ahead of `onBatch`, which is how the database pushes back.
const FEED_BYTES = 64 * 1024;

// A single record this long is never a row of websites: it is a quote that is never closed,
// swallowing the rest of the file. It is csv-parse's own default, stated so the message can quote it.
const MAX_RECORD_CHARS = 128_000;

/**
 * The csv-parse options of {@link ingestCsv}, for tools that must parse exactly as it does (the
 * ingest benchmark). Parser hands them to stream.Transform too; csv-parse's type lists only its own.
 */
export const CSV_PARSE_OPTIONS: Readonly<Options & TransformOptions> = Object.freeze({
  bom: true,
  // Every line break ends a record, whichever convention the file uses, so line numbers hold
  // even in files that mix them.
  record_delimiter: ['\r\n', '\n', '\r'],
  // Blank lines come through as records so that line numbers are counted here, not by
  // csv-parse (whose count drifts on CRLF inside quoted fields).
  skip_empty_lines: false,
  // The field count is checked per row against the header, so a bad row is rejected, not the file.
  relax_column_count: true,
  // A stray quote inside a value (Bob "the builder") is kept as text instead of failing the file.
  relax_quotes: true,
  max_record_size: MAX_RECORD_CHARS,
  // Records are read in bulk after each slice; a high mark avoids stalling the write in between.
  readableHighWaterMark: 16_384,
});

const URL_COLUMNS = ['website', 'url'] as const;
const HEADER_EXAMPLE = 'website,company,name,email,notes';

/**
 * Reads a CSV of websites as a stream, validates each row and hands accepted rows to `onBatch`
 * in order, awaiting it before reading on (backpressure to the database). Rows that fail are
 * rejected with their 1-based line number (the header is line 1; a record spanning lines counts
 * from its first line) and the rest go on. Whole-file problems throw CsvInvalidError; input over
 * `maxBytes` throws CsvTooLargeError.
 */
export async function ingestCsv(
  input: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  onBatch: (rows: NewWebsite[]) => Promise<void>,
  opts?: Partial<CsvIngestOptions>,
): Promise<CsvIngestSummary> {
  const options = resolveOptions(opts);
  const startedMs = performance.now();
  const ingest = new CsvIngest(options);
  const parser = new Parser({ ...CSV_PARSE_OPTIONS });
  // Errors also arrive through the write and end callbacks; this keeps the emitter from throwing.
  parser.on('error', () => {});

  let bytes = 0;
  let head: Buffer[] | undefined = [];
  let headBytes = 0;
  try {
    for await (const raw of input as AsyncIterable<Buffer | Uint8Array | string>) {
      const chunk = toBuffer(raw);
      if (chunk.length === 0) continue;
      bytes += chunk.length;
      if (bytes > options.maxBytes) throw new CsvTooLargeError(options.maxBytes);
      if (head !== undefined) {
        head.push(chunk);
        headBytes += chunk.length;
        if (headBytes < SNIFF_BYTES) continue;
        const window = Buffer.concat(head, headBytes);
        head = undefined;
        refuseBinary(window);
        await feed(parser, window, ingest, onBatch);
      } else {
        await feed(parser, chunk, ingest, onBatch);
      }
    }
    if (head !== undefined) {
      const window = Buffer.concat(head, headBytes);
      refuseBinary(window);
      await feed(parser, window, ingest, onBatch);
    }
    const ended = new Promise<Error | null | undefined>((resolve) => parser.end(resolve));
    ingest.drain(parser);
    const error = await ended;
    ingest.drain(parser);
    if (error) ingest.parseFailed(error, true);
    ingest.finish();
    await ingest.flush(onBatch);
  } finally {
    parser.destroy();
  }
  return ingest.summary(bytes, performance.now() - startedMs);
}

async function feed(
  parser: Parser,
  chunk: Buffer,
  ingest: CsvIngest,
  onBatch: (rows: NewWebsite[]) => Promise<void>,
): Promise<void> {
  for (let offset = 0; offset < chunk.length; offset += FEED_BYTES) {
    const slice =
      offset === 0 && chunk.length <= FEED_BYTES ? chunk : chunk.subarray(offset, offset + FEED_BYTES);
    // The parser transforms the slice synchronously inside write(); reading the records right away
    // releases a write that waits for room in the parser's output.
    const written = new Promise<Error | null | undefined>((resolve) => parser.write(slice, resolve));
    ingest.drain(parser);
    const error = await written;
    ingest.drain(parser);
    if (error) ingest.parseFailed(error, false);
    await ingest.flush(onBatch);
  }
}

/** Row-by-row state of one ingest: line numbers, header, duplicates, batches and counts. */
class CsvIngest {
  private nextLine = 1;
  private header: Header | undefined;
  private rows = 0;
  private accepted = 0;
  private rejected = 0;
  private readonly rejections: RowRejection[] = [];
  private readonly seen = new Map<string, number>();
  private batch: NewWebsite[] = [];
  private readonly ready: NewWebsite[][] = [];

  constructor(private readonly options: CsvIngestOptions) {}

  drain(parser: Parser): void {
    let record: string[] | null = parser.read() as string[] | null;
    while (record !== null) {
      this.record(record);
      record = parser.read() as string[] | null;
    }
  }

  async flush(onBatch: (rows: NewWebsite[]) => Promise<void>): Promise<void> {
    for (let batch = this.ready.shift(); batch !== undefined; batch = this.ready.shift()) {
      await onBatch(batch);
      // Parsing an uploaded buffer and inserting into SQLite are both synchronous: without a turn
      // of the event loop between batches, a 60,000-row upload holds every socket and timer of the
      // pipeline for most of a second.
      await setImmediate();
    }
  }

  /** Turns a parser error into a rejection of the record it stopped on, or into a whole-file error. */
  parseFailed(error: Error, atEnd: boolean): void {
    const code = (error as CsvError).code;
    if (atEnd && code === 'CSV_QUOTE_NOT_CLOSED' && this.header !== undefined) {
      this.rows++;
      this.reject(this.nextLine, 'a quoted field is not closed before the end of the file');
      return;
    }
    if (code === 'CSV_QUOTE_NOT_CLOSED') {
      throw new CsvInvalidError(
        `line ${this.nextLine}: a quote opened on this line is never closed, so the rest of the file ` +
          'reads as one value; close the quote, or double the quote characters ("") inside a quoted value',
        { cause: error },
      );
    }
    if (code === 'CSV_MAX_RECORD_SIZE') {
      throw new CsvInvalidError(
        `line ${this.nextLine}: the record starting here is longer than ${MAX_RECORD_CHARS} characters, ` +
          'most likely because a quote opened on it is never closed and the rest of the file reads as one ' +
          'value; close the quote, or double the quote characters ("") inside a quoted value',
        { cause: error },
      );
    }
    throw new CsvInvalidError(`line ${this.nextLine}: the CSV cannot be parsed: ${error.message}`, {
      cause: error,
    });
  }

  finish(): void {
    if (this.header === undefined) {
      throw new CsvInvalidError(
        `the CSV file is empty: it has no header row; start it with a header such as "${HEADER_EXAMPLE}" ` +
          'and put one website per line below it',
      );
    }
    if (this.batch.length > 0) {
      this.ready.push(this.batch);
      this.batch = [];
    }
  }

  summary(bytes: number, durationMs: number): CsvIngestSummary {
    return {
      rows: this.rows,
      accepted: this.accepted,
      rejected: this.rejected,
      rejections: this.rejections,
      bytes,
      durationMs,
    };
  }

  private record(fields: string[]): void {
    const line = this.nextLine;
    let span = 1;
    let textProblem: string | undefined;
    let textProblemField = -1;
    for (let f = 0; f < fields.length; f++) {
      const value = fields[f]!;
      if (isPlainText(value)) continue;
      const found = inspectText(value);
      span += found.lineBreaks;
      if (found.problem !== undefined && textProblem === undefined) {
        textProblem = found.problem;
        textProblemField = f;
      }
    }
    this.nextLine = line + span;
    if (isBlank(fields)) return;

    const header = this.header;
    if (header === undefined) {
      this.header = readHeader(fields, line, textProblem);
      return;
    }
    this.rows++;
    if (fields.length !== header.names.length) {
      this.reject(
        line,
        `wrong number of fields: expected ${header.names.length} as in the header, got ${fields.length}`,
      );
      return;
    }
    if (textProblem !== undefined) {
      this.reject(line, `${header.names[textProblemField]}: ${textProblem}`);
      return;
    }
    const rawUrl = fields[header.url]!.trim();
    if (rawUrl.length === 0) {
      this.reject(line, `${header.urlName}: empty`);
      return;
    }
    const url = normalizeWebsiteUrl(rawUrl);
    if (typeof url !== 'string') {
      this.reject(line, `${header.urlName}: ${url.problem}`);
      return;
    }
    const email = optionalField(fields, header.email);
    if (email !== null && !looksLikeEmail(email)) {
      this.reject(line, `${header.names[header.email]}: invalid e-mail address ${quoteValue(email)}`);
      return;
    }
    const firstLine = this.seen.get(url);
    if (firstLine !== undefined) {
      this.reject(line, `${header.urlName}: duplicate of line ${firstLine}`);
      return;
    }
    this.seen.set(url, line);
    this.accepted++;
    this.batch.push({
      lineNumber: line,
      url,
      company: optionalField(fields, header.company),
      name: optionalField(fields, header.name),
      email,
      notes: optionalField(fields, header.notes),
    });
    if (this.batch.length >= this.options.batchSize) {
      this.ready.push(this.batch);
      this.batch = [];
    }
  }

  private reject(lineNumber: number, reason: string): void {
    this.rejected++;
    if (this.rejections.length < this.options.maxRejectionsReported)
      this.rejections.push({ lineNumber, reason });
  }
}

interface Header {
  /** Trimmed, lower-cased column names, for reasons. */
  names: string[];
  url: number;
  urlName: string;
  company: number;
  name: number;
  email: number;
  notes: number;
}

function readHeader(fields: string[], line: number, textProblem: string | undefined): Header {
  if (textProblem !== undefined) {
    throw new CsvInvalidError(
      `this does not look like a CSV text file: its header row (line ${line}) ${textProblem}; ` +
        'upload a CSV saved as UTF-8 text (in a spreadsheet: Save as, "CSV UTF-8")',
    );
  }
  const names = fields.map((field, i) => field.trim().toLowerCase() || `column ${i + 1}`);
  const url = URL_COLUMNS.map((column) => names.indexOf(column)).find((index) => index !== -1);
  if (url === undefined) {
    const shown = fields.slice(0, 20).map((field) => quoteValue(field.trim()));
    const more = fields.length > 20 ? ` and ${fields.length - 20} more` : '';
    throw new CsvInvalidError(
      `the header row (line ${line}) has no "website" or "url" column; found ${shown.join(', ')}${more}. ` +
        `Name the column of site addresses "website" (or "url"), e.g. "${HEADER_EXAMPLE}"`,
    );
  }
  return {
    names,
    url,
    urlName: names[url]!,
    company: names.indexOf('company'),
    name: names.indexOf('name'),
    email: names.indexOf('email'),
    notes: names.indexOf('notes'),
  };
}

function refuseBinary(window: Buffer): void {
  if ((window[0] === 0xff && window[1] === 0xfe) || (window[0] === 0xfe && window[1] === 0xff)) {
    throw new CsvInvalidError(
      'the CSV is UTF-16 text; save it as UTF-8 instead (in a spreadsheet: Save as, "CSV UTF-8")',
    );
  }
  if (window.indexOf(0) !== -1) {
    throw new CsvInvalidError(
      'this does not look like a CSV text file: its first bytes contain NUL characters, as binary files ' +
        '(spreadsheets, archives, images) do; export the data as CSV (UTF-8) and upload that',
    );
  }
}

/** True when a value has no line break, control character or undecodable byte (the common case). */
function isPlainText(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0xfffd) return false;
  }
  return true;
}

/** Counts line breaks (CRLF, LF or a lone CR, as the parser splits records) and finds junk. */
function inspectText(value: string): { lineBreaks: number; problem: string | undefined } {
  let lineBreaks = 0;
  let problem: string | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0a) lineBreaks++;
    else if (c === 0x0d) {
      if (value.charCodeAt(i + 1) !== 0x0a) lineBreaks++;
    } else if (problem !== undefined || c === 0x09) {
      // Tabs are ordinary text; only the first problem is reported.
    } else if (c === 0xfffd) {
      // The decoder puts U+FFFD where bytes are not UTF-8: binary junk, or text in another encoding.
      problem = 'is not valid UTF-8 text';
    } else if (c < 0x20 || c === 0x7f) {
      problem = `contains control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
    }
  }
  return { lineBreaks, problem };
}

function isBlank(fields: string[]): boolean {
  for (let f = 0; f < fields.length; f++) {
    const value = fields[f]!;
    if (value.length !== 0 && value.trim().length !== 0) return false;
  }
  return true;
}

function optionalField(fields: string[], index: number): string | null {
  if (index === -1) return null;
  const value = fields[index]!.trim();
  return value.length === 0 ? null : value;
}

/** One `@`, something before it, a dotted domain after it, no spaces or characters mail forbids unquoted. */
function looksLikeEmail(value: string): boolean {
  const at = value.indexOf('@');
  if (at <= 0 || at !== value.lastIndexOf('@')) return false;
  const dot = value.lastIndexOf('.');
  if (dot < at + 2 || dot === value.length - 1) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x22 || c === 0x28 || c === 0x29 || c === 0x2c || c === 0x3a || c === 0x3b)
      return false;
    if (c === 0x3c || c === 0x3e || c === 0x5b || c === 0x5c || c === 0x5d || c === 0x7f) return false;
  }
  return true;
}

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function resolveOptions(opts: Partial<CsvIngestOptions> | undefined): CsvIngestOptions {
  const options: CsvIngestOptions = {
    maxBytes: opts?.maxBytes ?? DEFAULT_CSV_INGEST_OPTIONS.maxBytes,
    batchSize: opts?.batchSize ?? DEFAULT_CSV_INGEST_OPTIONS.batchSize,
    maxRejectionsReported: opts?.maxRejectionsReported ?? DEFAULT_CSV_INGEST_OPTIONS.maxRejectionsReported,
  };
  const problems: string[] = [];
  if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1)
    problems.push(`maxBytes: must be a positive integer (got ${String(options.maxBytes)})`);
  if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1)
    problems.push(`batchSize: must be a positive integer (got ${String(options.batchSize)})`);
  if (!Number.isSafeInteger(options.maxRejectionsReported) || options.maxRejectionsReported < 0)
    problems.push(
      `maxRejectionsReported: must be an integer ≥ 0 (got ${String(options.maxRejectionsReported)})`,
    );
  if (problems.length > 0) throw new ConfigInvalidError('CSV ingest options', problems);
  return options;
}
