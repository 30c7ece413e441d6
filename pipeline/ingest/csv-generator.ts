import { ConfigInvalidError } from '../../errors.js';

/** The header every generated CSV starts with. */
export const GENERATED_CSV_HEADER = 'website,company,name,email,notes';

// Chunks of this size keep an HTTP upload streaming without one write per row.
const CHUNK_CHARS = 64 * 1024;

const COMPANY_PREFIXES = list(`
  Northwind | Blue Harbor | Alder & Finch | Quantum Peak | Redwood | Silverline | Brightpath
  Copperfield | Evergreen | Ironbridge | Lumen | Maple Street | Oakridge | Pinecrest | Riverside
  Summit | Tidewater | Vantage | Westbrook | Zephyr
`);
const COMPANY_TRADES = list(`
  Logistics | Dental Care | Software | Coffee Roasters | Legal | Analytics | Builders | Bakery
  Consulting | Outdoor Gear | Print Studio | Veterinary Clinic | Solar | Fitness | Bookkeeping
`);
// Two of the suffixes contain a comma, so a share of the rows carry quoted fields, as real exports do.
const COMPANY_SUFFIXES = ['', ' Ltd', ', Inc.', ' GmbH', ' LLC', ' & Co., Ltd.'];
const FIRST_NAMES = list(`
  Jane | Omar | Priya | Lukas | Mei | Carlos | Aisha | Tom | Sofia | Kenji | Chloé | José | Ingrid
  Mateo | Nadia | Olu
`);
const LAST_NAMES = list(`
  Doe | Haddad | Raman | Becker | Chen | García | Bello | Wright | Rossi | Tanaka | Dubois
  Müller | O'Brien | Novak | Silva | Kowalski | Nguyen
`);
const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'];
const NOTES = [
  'met at the trade fair',
  'asked for a demo, call back in Q3',
  'existing customer; renewal due',
  'prefers e-mail over phone',
  'referred by "Blue Harbor"',
  'large team, several sites',
  'no budget this year',
  'interested in the analytics add-on',
];

interface Vocabulary {
  companies: string[];
  people: Array<{ name: string; email: string }>;
  notes: string[];
}

let vocabulary: Vocabulary | undefined;

/**
 * A CSV of `rows` websites with the header `website,company,name,email,notes`, in ~64 KB UTF-8
 * chunks. Row `i` (0-based) has the URL `urlForRow(i)` and sits on line `i + 2`. Company, person,
 * e-mail and notes vary deterministically with `i`, include quoted fields and non-ASCII names, and
 * some optional fields are empty; every row passes ingest validation, so distinct URLs give
 * `rows` accepted rows.
 */
export function generateCsv(rows: number, urlForRow: (i: number) => string): AsyncIterable<Buffer> {
  if (!Number.isSafeInteger(rows) || rows < 0) {
    throw new ConfigInvalidError('generateCsv', [`rows: must be an integer ≥ 0 (got ${String(rows)})`]);
  }
  return chunks(rows, urlForRow);
}

async function* chunks(rows: number, urlForRow: (i: number) => string): AsyncGenerator<Buffer> {
  vocabulary ??= buildVocabulary();
  const words = vocabulary;
  let text = `${GENERATED_CSV_HEADER}\n`;
  for (let i = 0; i < rows; i++) {
    // Different strides through each list, so neighbouring rows do not repeat the same combination.
    const company = words.companies[(i * 7) % words.companies.length]!;
    const person = words.people[(i * 13) % words.people.length]!;
    const email = i % 9 === 4 ? '' : person.email;
    const notes = i % 4 === 1 ? '' : words.notes[(i * 5) % words.notes.length]!;
    text += `${csvField(urlForRow(i))},${company},${person.name},${email},${notes}\n`;
    if (text.length >= CHUNK_CHARS) {
      yield Buffer.from(text, 'utf8');
      text = '';
    }
  }
  if (text.length > 0) yield Buffer.from(text, 'utf8');
}

function buildVocabulary(): Vocabulary {
  const companies: string[] = [];
  for (const suffix of COMPANY_SUFFIXES) {
    for (const trade of COMPANY_TRADES) {
      for (const prefix of COMPANY_PREFIXES) companies.push(csvField(`${prefix} ${trade}${suffix}`));
    }
  }
  const people: Array<{ name: string; email: string }> = [];
  for (const last of LAST_NAMES) {
    for (const first of FIRST_NAMES) {
      const domain = EMAIL_DOMAINS[people.length % EMAIL_DOMAINS.length]!;
      people.push({
        name: csvField(`${first} ${last}`),
        email: `${mailbox(first)}.${mailbox(last)}@${domain}`,
      });
    }
  }
  return { companies, people, notes: NOTES.map(csvField) };
}

/** Lower-case ASCII for the local part of an address: `Chloé` → `chloe`, `O'Brien` → `obrien`. */
function mailbox(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();
}

/** Items of a list written one or more to a line, separated by `|`. */
function list(text: string): string[] {
  return text
    .split(/[|\n]/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** RFC 4180 quoting, only when the value needs it. */
function csvField(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2c || c === 0x22 || c === 0x0a || c === 0x0d) return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}
