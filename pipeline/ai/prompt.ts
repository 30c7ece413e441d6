import type { ScrapeResult } from '../scraper/scrape-result.js';
import type { ChatMessage } from './chat-client.js';

/** The CSV fields of a row that go into its prompt. */
export interface PromptRow {
  company: string | null;
  name: string | null;
  notes: string | null;
  url: string;
}

/**
 * Bounds per field keep a prompt under ~2,000 characters (~500 tokens) whatever the page or the
 * CSV holds: prompt tokens cost money and rate-limit budget, and the page's opening says enough.
 */
const MAX_FIELD_CHARS = 200;
const MAX_NOTES_CHARS = 500;
const MAX_DESCRIPTION_CHARS = 400;
const MAX_EXCERPT_CHARS = 800;

const SYSTEM_MESSAGE: ChatMessage = {
  role: 'system',
  content:
    'You write short, personalised outreach messages to businesses. Use what the user tells you about ' +
    'the company and what its website says. Write 80 to 150 words in a warm, plain, professional tone: ' +
    'a greeting (by name when a contact is given), one or two sentences that show you looked at their ' +
    'website, a concrete reason to talk, and a low-pressure call to action. No subject line, no ' +
    'placeholders, no invented facts.',
};

/** The messages asking the LLM for one row's outreach message, from its CSV fields and its scraped page. */
export function buildPrompt(row: PromptRow, page: ScrapeResult): ChatMessage[] {
  let user = 'Write an outreach message for this company.\n\n';
  if (row.company) user += `Company: ${clip(row.company, MAX_FIELD_CHARS)}\n`;
  if (row.name) user += `Contact: ${clip(row.name, MAX_FIELD_CHARS)}\n`;
  user += `Website: ${clip(page.finalUrl || row.url, MAX_FIELD_CHARS)}\n`;
  if (row.notes) user += `Notes: ${clip(row.notes, MAX_NOTES_CHARS)}\n`;
  if (page.title) user += `Page title: ${clip(page.title, MAX_FIELD_CHARS)}\n`;
  if (page.description) user += `Page description: ${clip(page.description, MAX_DESCRIPTION_CHARS)}\n`;
  if (page.excerpt) user += `Page excerpt: ${clip(page.excerpt, MAX_EXCERPT_CHARS)}\n`;
  return [SYSTEM_MESSAGE, { role: 'user', content: user }];
}

/** Whitespace other than a single space: a line break, a tab, two spaces in a row. */
const NEEDS_NORMALISING = /[^\S ]|\s\s/;

/** One line of at most `max` characters: CSV cells and page text may hold line breaks. */
function clip(text: string, max: number): string {
  // Cut before normalising, so a huge cell costs no more than a small one.
  let line = text.length > max * 2 ? text.slice(0, max * 2) : text;
  // Most text is already one line with single spaces: test first, rather than rebuild it.
  if (NEEDS_NORMALISING.test(line)) line = line.replace(/\s+/g, ' ');
  line = line.trim();
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}
