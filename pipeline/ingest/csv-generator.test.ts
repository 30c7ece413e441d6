import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../errors.js';
import type { NewWebsite } from '../store/store.js';
import { GENERATED_CSV_HEADER, generateCsv } from './csv-generator.js';
import { ingestCsv } from './csv-ingest.js';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return chunks;
}

describe('generateCsv', () => {
  it('starts with the header and yields chunks of about 64 KB', async () => {
    const chunks = await collect(generateCsv(5_000, (i) => `https://site-${i}.sites.test/company/${i}`));
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.startsWith(`${GENERATED_CSV_HEADER}\n`)).toBe(true);
    expect(text.endsWith('\n')).toBe(true);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(chunk.length).toBeLessThan(65 * 1024);
    }
  });

  it('produces rows that ingest accepts in full, row i on line i + 2', async () => {
    const rows: NewWebsite[] = [];
    const summary = await ingestCsv(
      generateCsv(3_000, (i) => `https://site-${i}.sites.test:41234/company/${i}`),
      async (batch) => {
        rows.push(...batch);
      },
    );
    expect(summary).toMatchObject({ rows: 3_000, accepted: 3_000, rejected: 0 });
    expect(rows.every((row, i) => row.lineNumber === i + 2)).toBe(true);
    expect(rows[1_234]!.url).toBe('https://site-1234.sites.test:41234/company/1234');
  });

  it('varies the rows and quotes the fields that need it', async () => {
    const rows: NewWebsite[] = [];
    await ingestCsv(
      generateCsv(400, (i) => `https://site-${i}.sites.test/`),
      async (batch) => {
        rows.push(...batch);
      },
    );
    expect(new Set(rows.map((row) => row.company)).size).toBeGreaterThan(300);
    expect(rows.some((row) => row.company?.includes(','))).toBe(true);
    expect(rows.some((row) => row.notes?.includes('"'))).toBe(true);
    expect(rows.some((row) => /[^\x20-\x7e]/.test(row.name ?? ''))).toBe(true);
    expect(rows.some((row) => row.email === null)).toBe(true);
    expect(rows.some((row) => row.notes === null)).toBe(true);
  });

  it('quotes a URL that contains a comma', async () => {
    const chunks = await collect(generateCsv(1, () => 'https://acme.com/a,b'));
    expect(Buffer.concat(chunks).toString('utf8').split('\n')[1]).toMatch(/^"https:\/\/acme\.com\/a,b",/);
  });

  it('yields only the header for zero rows', async () => {
    const chunks = await collect(generateCsv(0, () => 'unused'));
    expect(Buffer.concat(chunks).toString('utf8')).toBe(`${GENERATED_CSV_HEADER}\n`);
  });

  it('refuses a row count that is not a non-negative integer', () => {
    expect(() => generateCsv(-1, () => 'x')).toThrow(ConfigInvalidError);
    expect(() => generateCsv(1.5, () => 'x')).toThrow(/rows: must be an integer/);
  });
});
