import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CsvInvalidError, CsvTooLargeError, ErrorCode } from '../../errors.js';
import type { NewWebsite } from '../store/store.js';
import { type CsvIngestOptions, ingestCsv } from './csv-ingest.js';

async function* chunksOf(
  csv: string | Buffer,
  chunkBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<Buffer> {
  const bytes = typeof csv === 'string' ? Buffer.from(csv, 'utf8') : csv;
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    yield bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes));
  }
}

async function ingest(csv: string | Buffer, opts?: Partial<CsvIngestOptions> & { chunkBytes?: number }) {
  const batches: NewWebsite[][] = [];
  const summary = await ingestCsv(
    chunksOf(csv, opts?.chunkBytes),
    async (rows) => {
      batches.push(rows);
    },
    opts,
  );
  return { summary, batches, rows: batches.flat() };
}

/** Line number and URL of each accepted row: what most cases need to compare. */
function accepted(rows: NewWebsite[]): Array<[number, string]> {
  return rows.map((row) => [row.lineNumber, row.url]);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the ingest to fail');
}

describe('ingestCsv', () => {
  it('accepts rows with all columns and maps them to new websites', async () => {
    const { summary, rows } = await ingest(
      'website,company,name,email,notes\n' +
        'https://acme.example.com/about,Acme,Jane Doe,jane@acme.example.com,met at the fair\n' +
        'https://globex.example.com,  Globex  ,,,\n',
    );
    expect(rows).toEqual([
      {
        lineNumber: 2,
        url: 'https://acme.example.com/about',
        company: 'Acme',
        name: 'Jane Doe',
        email: 'jane@acme.example.com',
        notes: 'met at the fair',
      },
      {
        lineNumber: 3,
        url: 'https://globex.example.com/',
        company: 'Globex',
        name: null,
        email: null,
        notes: null,
      },
    ]);
    expect(summary).toMatchObject({ rows: 2, accepted: 2, rejected: 0, rejections: [] });
  });

  it('refuses a file without a url column and names the columns it found', async () => {
    const err = await failure(ingest('company,name,email\nAcme,Jane,jane@acme.example.com\n'));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect((err as CsvInvalidError).code).toBe(ErrorCode.CsvInvalid);
    expect(err.message).toContain('found "company", "name", "email"');
    expect(err.message).toContain('"website" (or "url")');
  });

  it('refuses an empty file', async () => {
    const err = await failure(ingest(''));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(/^the CSV file is empty/);
  });

  it('refuses a file of only whitespace and blank lines as empty', async () => {
    const err = await failure(ingest('  \r\n\n\t\n'));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(/^the CSV file is empty/);
  });

  it('refuses a file holding only a byte order mark as empty', async () => {
    const err = await failure(ingest(Buffer.from([0xef, 0xbb, 0xbf])));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(/^the CSV file is empty/);
  });

  it('reads a header and rows that follow a UTF-8 byte order mark', async () => {
    const csv = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('website,company\nacme.com,Acmé\n'),
    ]);
    const { summary, rows } = await ingest(csv);
    expect(rows).toMatchObject([{ lineNumber: 2, url: 'https://acme.com/', company: 'Acmé' }]);
    expect(summary).toMatchObject({ rows: 1, accepted: 1, rejected: 0, bytes: csv.length });
  });

  it('reads CRLF line endings without leaving carriage returns in values', async () => {
    const { rows } = await ingest(
      'website,company,notes\r\nacme.com,Acme,first\r\nglobex.com,Globex,second\r\n',
    );
    expect(rows).toMatchObject([
      { lineNumber: 2, url: 'https://acme.com/', company: 'Acme', notes: 'first' },
      { lineNumber: 3, url: 'https://globex.com/', company: 'Globex', notes: 'second' },
    ]);
  });

  it('keeps commas, quotes and line breaks inside quoted fields and numbers the following lines right', async () => {
    const { summary, rows } = await ingest(
      'website,company,notes\n' +
        'acme.com,"Acme, Inc.","said ""call me""\nin the spring,\nnot before"\n' +
        'globex.com,Globex,\n' +
        'not a url,x,y\n',
    );
    expect(rows).toMatchObject([
      { lineNumber: 2, company: 'Acme, Inc.', notes: 'said "call me"\nin the spring,\nnot before' },
      { lineNumber: 5, url: 'https://globex.com/' },
    ]);
    expect(summary.rejections).toEqual([
      { lineNumber: 6, reason: 'website: invalid URL "not a url" (contains whitespace)' },
    ]);
  });

  it('counts a CRLF inside a quoted field as one line break', async () => {
    const { summary, rows } = await ingest(
      'website,notes\r\nacme.com,"two\r\nlines"\r\nglobex.com,x\r\nftp://initech.com,y\r\n',
    );
    expect(accepted(rows)).toEqual([
      [2, 'https://acme.com/'],
      [4, 'https://globex.com/'],
    ]);
    expect(summary.rejections).toEqual([
      {
        lineNumber: 5,
        reason: 'website: invalid URL "ftp://initech.com" (only http and https are accepted)',
      },
    ]);
  });

  it('gives a record spanning lines the line number where it starts', async () => {
    const { summary } = await ingest('website,notes\nglobex.com,x\n"acme\n.com",x\n');
    expect(summary.rejections).toEqual([
      { lineNumber: 3, reason: 'website: invalid URL "acme\\n.com" (contains whitespace)' },
    ]);
  });

  it('skips blank and whitespace-only lines silently while counting them as lines', async () => {
    const { summary, rows } = await ingest(
      '\nwebsite,company\n\nacme.com,Acme\n   \n,\n\r\nglobex.com,Globex\n\n',
    );
    expect(accepted(rows)).toEqual([
      [4, 'https://acme.com/'],
      [8, 'https://globex.com/'],
    ]);
    expect(summary).toMatchObject({ rows: 2, accepted: 2, rejected: 0 });
  });

  it('rejects a URL already seen in the upload as a duplicate of its first line', async () => {
    const { summary, rows } = await ingest(
      'website\nacme.com\nhttps://acme.com/\nHTTPS://ACME.COM\nhttp://acme.com\nacme.com/about\nacme.com\n',
    );
    expect(accepted(rows)).toEqual([
      [2, 'https://acme.com/'],
      [5, 'http://acme.com/'],
      [6, 'https://acme.com/about'],
    ]);
    expect(summary.rejections).toEqual([
      { lineNumber: 3, reason: 'website: duplicate of line 2' },
      { lineNumber: 4, reason: 'website: duplicate of line 2' },
      { lineNumber: 7, reason: 'website: duplicate of line 2' },
    ]);
    expect(summary).toMatchObject({ rows: 6, accepted: 3, rejected: 3 });
  });

  it('rejects invalid URLs with the field, the value and what is wrong', async () => {
    const longUrl = `https://acme.com/${'a'.repeat(2040)}`;
    const { summary, rows } = await ingest(
      [
        'website,company',
        'javascript:alert(1),a',
        'ftp://files.acme.com/list,b',
        'https://acme .com,c',
        'http://,d',
        'http://intranet/home,e',
        'ht!tp://x,f',
        'mailto:jane@acme.com,g',
        `${longUrl},h`,
        ',i',
        'https://fine.acme.com,j',
      ].join('\n'),
    );
    expect(accepted(rows)).toEqual([[11, 'https://fine.acme.com/']]);
    expect(summary.rejections).toEqual([
      {
        lineNumber: 2,
        reason: 'website: invalid URL "javascript:alert(1)" (only http and https are accepted)',
      },
      {
        lineNumber: 3,
        reason: 'website: invalid URL "ftp://files.acme.com/list" (only http and https are accepted)',
      },
      { lineNumber: 4, reason: 'website: invalid URL "https://acme .com" (contains whitespace)' },
      { lineNumber: 5, reason: 'website: invalid URL "http://"' },
      {
        lineNumber: 6,
        reason:
          'website: invalid URL "http://intranet/home" (the host needs a domain with a dot, or an IP address)',
      },
      { lineNumber: 7, reason: 'website: invalid URL "ht!tp://x"' },
      {
        lineNumber: 8,
        reason: 'website: invalid URL "mailto:jane@acme.com" (only http and https are accepted)',
      },
      { lineNumber: 9, reason: 'website: URL longer than 2048 characters' },
      { lineNumber: 10, reason: 'website: empty' },
    ]);
  });

  it('accepts a bare domain by prepending https://', async () => {
    const { rows } = await ingest('website\nacme.com\nwww.globex.com/about\ninitech.com:8080/x\n');
    expect(accepted(rows)).toEqual([
      [2, 'https://acme.com/'],
      [3, 'https://www.globex.com/about'],
      [4, 'https://initech.com:8080/x'],
    ]);
  });

  it('rejects a row of binary junk in the middle of the file and keeps the rows around it', async () => {
    const csv = Buffer.concat([
      Buffer.from('website,company,notes\nacme.com,Acme,x\n'),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xd8, 0x2c, 0x61, 0x2c, 0x62, 0x0a]),
      Buffer.from('globex.com,Glo\x01bex,y\ninitech.com,Initech,z\n'),
    ]);
    const { summary, rows } = await ingest(csv);
    expect(accepted(rows)).toEqual([
      [2, 'https://acme.com/'],
      [5, 'https://initech.com/'],
    ]);
    expect(summary.rejections).toEqual([
      { lineNumber: 3, reason: 'website: is not valid UTF-8 text' },
      { lineNumber: 4, reason: 'company: contains control character U+0001' },
    ]);
  });

  it('refuses a binary file as a whole', async () => {
    const png = Buffer.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    ]);
    const err = await failure(ingest(png));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(/^this does not look like a CSV text file/);
  });

  it('refuses a file whose header row is not UTF-8 text', async () => {
    const err = await failure(ingest(Buffer.from([0x25, 0xe2, 0xe3, 0xcf, 0xd3, 0x0a, 0x61, 0x0a])));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(
      /^this does not look like a CSV text file: its header row \(line 1\) is not valid UTF-8/,
    );
  });

  it('refuses UTF-16 text and says to save it as UTF-8', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('website\nacme.com\n', 'utf16le')]);
    const err = await failure(ingest(utf16));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toContain('save it as UTF-8');
  });

  it('refuses a file over maxBytes and reads nothing after the limit', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.from('website\n');
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield Buffer.from(`site-${String(i).padStart(4, '0')}.acme.com\n`); // 19 bytes
      }
    }
    const err = await failure(ingestCsv(source(), async () => {}, { maxBytes: 8 + 19 * 10 }));
    expect(err).toBeInstanceOf(CsvTooLargeError);
    expect((err as CsvTooLargeError).limitBytes).toBe(198);
    expect(pulled).toBe(11);
  });

  it('rejects rows whose number of fields differs from the header', async () => {
    const { summary, rows } = await ingest(
      'website,company,name\nacme.com,Acme\nglobex.com,Globex,Hank,extra\ninitech.com,Initech,Bill\n',
    );
    expect(accepted(rows)).toEqual([[4, 'https://initech.com/']]);
    expect(summary.rejections).toEqual([
      { lineNumber: 2, reason: 'wrong number of fields: expected 3 as in the header, got 2' },
      { lineNumber: 3, reason: 'wrong number of fields: expected 3 as in the header, got 4' },
    ]);
  });

  it('rejects a row whose e-mail does not look like an address', async () => {
    const { summary, rows } = await ingest(
      'website,email\nacme.com,jane@acme.com\nglobex.com,hank@\ninitech.com,bill at initech.com\numbrella.com,\n',
    );
    expect(accepted(rows)).toEqual([
      [2, 'https://acme.com/'],
      [5, 'https://umbrella.com/'],
    ]);
    expect(summary.rejections).toEqual([
      { lineNumber: 3, reason: 'email: invalid e-mail address "hank@"' },
      { lineNumber: 4, reason: 'email: invalid e-mail address "bill at initech.com"' },
    ]);
  });

  it('delivers rows in order in batches of at most batchSize', async () => {
    const lines = ['website'];
    for (let i = 0; i < 2_500; i++) lines.push(`site-${i}.acme.com`);
    const { batches, rows } = await ingest(lines.join('\n'), { batchSize: 1000, chunkBytes: 4096 });
    expect(batches.map((batch) => batch.length)).toEqual([1000, 1000, 500]);
    expect(rows.map((row) => row.lineNumber)).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 2));
    expect(rows[2_499]!.url).toBe('https://site-2499.acme.com/');
  });

  it('lets the event loop turn between batches of an upload that arrived as one buffer', async () => {
    // The parser and a SQLite insert both run synchronously: without a turn between batches the
    // whole upload would hold the pipeline's sockets and timers at once.
    const lines = ['website'];
    for (let i = 0; i < 3_000; i++) lines.push(`site-${i}.acme.com`);
    const events: string[] = [];
    await ingestCsv(
      chunksOf(lines.join('\n')),
      async (rows) => {
        events.push(`batch ${rows.length}`);
        setImmediate(() => events.push('turn'));
      },
      { batchSize: 1000 },
    );
    expect(events.slice(0, 5)).toEqual(['batch 1000', 'turn', 'batch 1000', 'turn', 'batch 1000']);
  });

  it('does not read more input while onBatch is pending', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.from('website\n');
      for (let chunk = 0; chunk < 20; chunk++) {
        pulled++;
        let text = '';
        for (let i = 0; i < 50; i++) text += `site-${chunk}-${i}.acme.com\n`;
        yield Buffer.from(text);
      }
    }
    const pulledDuringBatch: Array<[number, number]> = [];
    const summary = await ingestCsv(
      source(),
      async () => {
        const before = pulled;
        await nextTurn();
        pulledDuringBatch.push([before, pulled]);
      },
      { batchSize: 25 },
    );
    expect(summary.accepted).toBe(1000);
    expect(pulledDuringBatch).toHaveLength(40);
    expect(pulledDuringBatch.filter(([before, after]) => before !== after)).toEqual([]);
  });

  it('accepts "url" as the name of the url column', async () => {
    const { rows } = await ingest('company,url\nAcme,acme.com\n');
    expect(rows).toMatchObject([{ lineNumber: 2, url: 'https://acme.com/', company: 'Acme' }]);
  });

  it('matches header names regardless of case and surrounding whitespace', async () => {
    const { summary, rows } = await ingest(
      ' WebSite ,COMPANY,  Email\t,Notes\nacme.com,Acme,jane@acme.com,x\nglobex.com,G,nope,y\n',
    );
    expect(rows).toEqual([
      {
        lineNumber: 2,
        url: 'https://acme.com/',
        company: 'Acme',
        name: null,
        email: 'jane@acme.com',
        notes: 'x',
      },
    ]);
    expect(summary.rejections).toEqual([{ lineNumber: 3, reason: 'email: invalid e-mail address "nope"' }]);
  });

  it('ignores columns it does not know', async () => {
    const { rows } = await ingest('id,website,phone,company\n7,acme.com,555-0100,Acme\n');
    expect(rows).toEqual([
      { lineNumber: 2, url: 'https://acme.com/', company: 'Acme', name: null, email: null, notes: null },
    ]);
  });

  it('parses the same rows whatever the chunk boundaries', async () => {
    const csv = Buffer.from(
      '\ufeffwebsite,company,notes\r\n' +
        'acme.com,"Acme, Inc.","line one\r\nline ""two"""\r\n' +
        '\r\n' +
        'globex.com,Glöbex 日本,\r\n' +
        'bad url,x,y\r\n' +
        'initech.com,Initech,"a\nb"',
    );
    const whole = await ingest(csv);
    expect(accepted(whole.rows)).toEqual([
      [2, 'https://acme.com/'],
      [5, 'https://globex.com/'],
      [7, 'https://initech.com/'],
    ]);
    for (const chunkBytes of [1, 2, 3, 5, 7]) {
      const split = await ingest(csv, { chunkBytes });
      expect(split.rows).toEqual(whole.rows);
      expect(split.summary.rejections).toEqual(whole.summary.rejections);
    }
  });

  it('counts rejections beyond maxRejectionsReported without listing them', async () => {
    const { summary } = await ingest('website\nx\ny\nz\nacme.com\n', { maxRejectionsReported: 2 });
    expect(summary).toMatchObject({ rows: 4, accepted: 1, rejected: 3 });
    expect(summary.rejections.map((r) => r.lineNumber)).toEqual([2, 3]);
  });

  it('rejects a last row whose quote is never closed and keeps the rows before it', async () => {
    const { summary, rows } = await ingest(
      'website,notes\nacme.com,fine\n\nglobex.com,"never closed\nmore\n',
    );
    expect(accepted(rows)).toEqual([[2, 'https://acme.com/']]);
    expect(summary.rejections).toEqual([
      { lineNumber: 4, reason: 'a quoted field is not closed before the end of the file' },
    ]);
  });

  it('refuses a file whose header row opens a quote that is never closed', async () => {
    const err = await failure(ingest('\n"website,company\nacme.com,Acme\n'));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(/^line 2: a quote opened on this line is never closed/);
  });

  it('refuses a file where an unclosed quote swallows more than a record can hold', async () => {
    const body = 'acme.com,x\n'.repeat(20_000);
    const err = await failure(ingest(`website,notes\nglobex.com,"oops\n${body}`));
    expect(err).toBeInstanceOf(CsvInvalidError);
    expect(err.message).toMatch(
      /^line 2: the record starting here is longer than 128000 characters, most likely/,
    );
  });

  it('reads a Node.js file stream', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'headroom-ingest-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'sites.csv');
    const csv = 'website,company\nacme.com,Acme\nglobex.com,Globex\n';
    await writeFile(file, csv);
    const rows: NewWebsite[] = [];
    const summary = await ingestCsv(createReadStream(file), async (batch) => {
      rows.push(...batch);
    });
    expect(accepted(rows)).toEqual([
      [2, 'https://acme.com/'],
      [3, 'https://globex.com/'],
    ]);
    expect(summary.bytes).toBe(Buffer.byteLength(csv));
  });

  it('refuses options that are not positive integers', async () => {
    await expect(ingest('website\nacme.com\n', { batchSize: 0 })).rejects.toThrow(
      /batchSize: must be a positive integer/,
    );
  });
});
