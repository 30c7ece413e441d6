import { SeededRandom } from './seeded-random.js';

const GREETINGS_NAMED = ['Hi {name},', 'Hello {name},', 'Dear {name},', 'Good morning {name},'] as const;
const GREETINGS_ANONYMOUS = ['Hi there,', 'Hello {company} team,', 'Hello,', 'Hi {company} team,'] as const;
/** The first sentence always names the company, so that every message reads as personal. */
const OPENERS = [
  'I came across {company} recently and was impressed by what your team has built.',
  'Your website makes it clear that {company} cares about its customers.',
  'It looks like {company} is growing quickly, so congratulations on the progress.',
  'I spent a few minutes on the {company} website and liked what I saw.',
  'We help teams like {company} spend less time on repetitive work and more on what matters.',
] as const;
/** Eleven sentences: a prime count, so any step from 1 to 10 visits each once before repeating. */
const SENTENCES = [
  'Many companies in your space struggle to keep up with demand, and we built a simple way to fix that.',
  'Our customers usually see a faster turnaround within the first month.',
  'I would love to learn how {company} approaches growth this year.',
  'Would you be open to a short call next week to see whether this could help?',
  'I put together a few ideas specific to {company} that I would be happy to share.',
  'A few of your peers have already cut their costs noticeably with our approach.',
  'Setting things up takes less than a day and needs no changes to your current tools.',
  'If the timing is not right, just let me know and I will not follow up again.',
  'I noticed a couple of small things on your site that could bring in more enquiries.',
  'Happy to send over a short case study if that is easier than a call.',
  'Nothing about it requires a long contract or a big upfront cost.',
] as const;
/** Each sentence with its token count ({company} counted as one) and its {company} count, computed once. */
interface SentenceShape {
  text: string;
  tokens: number;
  companies: number;
}
const shape = (text: string): SentenceShape => ({
  text,
  tokens: countTokens(text),
  companies: text.split('{company}').length - 1,
});
const OPENERS_SHAPES = OPENERS.map(shape);
const SENTENCE_SHAPES = SENTENCES.map(shape);
const SIGN_OFF = '\n\nBest regards,\nAlex';
const SIGN_OFF_TOKENS = 3;

/** What the simulator can pick up from a prompt to make a message look personal. */
export interface PromptDetails {
  company: string | null;
  name: string | null;
}

/** Finds `Company:` and `Contact:`/`Name:` lines (as written by the pipeline's prompt) in a prompt. */
export function findPromptDetails(prompt: string): PromptDetails {
  return {
    company: field(prompt, /^(?:company|company name|page title):[ \t]*(.+)$/im),
    name: field(prompt, /^(?:contact|name|contact name):[ \t]*(.+)$/im),
  };
}

function field(prompt: string, pattern: RegExp): string | null {
  const match = pattern.exec(prompt);
  if (!match) return null;
  // Titles such as "Acme | Roofing for everyone" name the company in their first part.
  const value = match[1]!
    .split(' | ')[0]!
    .trim()
    .replace(/[.,;:!]+$/, '');
  return value.length === 0 ? null : value.slice(0, 60).replace(/\s+/g, ' ');
}

/**
 * A deterministic outreach message of exactly `tokenCount` tokens, chosen from a small vocabulary
 * by `seed`. A token is a word with the whitespace before it (see `tokenEnd`), which is close
 * enough to real tokenisers for timing and counting. One string rather than a list of tokens:
 * the simulator answers thousands of these per second.
 */
export function simulatedMessage(details: PromptDetails, seed: number, tokenCount: number): string {
  const random = new SeededRandom(seed);
  const company = details.company ?? 'your company';
  const greeting = details.name
    ? random.pick(GREETINGS_NAMED).replace('{name}', details.name)
    : random.pick(GREETINGS_ANONYMOUS).replace('{company}', company);
  if (tokenCount <= SIGN_OFF_TOKENS) return firstTokens(SIGN_OFF.trimStart(), tokenCount);
  const bodyTokens = tokenCount - SIGN_OFF_TOKENS;
  const companyTokens = countTokens(company);
  let text = greeting;
  let words = countTokens(greeting);
  const start = random.int(SENTENCES.length);
  const step = 1 + random.int(SENTENCES.length - 1);
  for (let i = 0; words < bodyTokens; i++) {
    const template =
      i === 0 ? random.pick(OPENERS_SHAPES) : SENTENCE_SHAPES[(start + i * step) % SENTENCES.length]!;
    const sentence = template.text.replaceAll('{company}', company);
    text += i === 0 ? '\n\n' : ' ';
    const sentenceWords = template.tokens + template.companies * (companyTokens - 1);
    if (words + sentenceWords <= bodyTokens) {
      text += sentence;
      words += sentenceWords;
    } else {
      text += firstTokens(sentence, bodyTokens - words);
      words = bodyTokens;
    }
  }
  if (words > bodyTokens) text = firstTokens(text, bodyTokens);
  if (!/[.,?!]$/.test(text)) text += '.';
  return text + SIGN_OFF;
}

/** Number of tokens (whitespace-led words) in `text`. */
export function countTokens(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) count++;
    inWord = !space;
  }
  return count;
}

/**
 * The offset just past `count` more tokens of `text` from `offset` (a token boundary). Streams
 * use it to cut the message into the tokens due at each tick without splitting it up front.
 */
export function tokenEnd(text: string, offset: number, count: number): number {
  let i = offset;
  for (let n = 0; n < count && i < text.length; n++) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
  }
  return i;
}

function firstTokens(text: string, count: number): string {
  return text.slice(0, tokenEnd(text, 0, count));
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
}
