import { SeededRandom } from './seeded-random.js';

const GREETINGS_NAMED = ['Hi {name},', 'Hello {name},', 'Dear {name},', 'Good morning {name},'] as const;
const GREETINGS_ANONYMOUS = ['Hi there,', 'Hello {company} team,', 'Hello,', 'Hi {company} team,'] as const;
const SENTENCES = [
  'I came across {company} recently and was impressed by what your team has built.',
  'Your website makes it clear that {company} cares about its customers.',
  'We help teams like {company} spend less time on repetitive work and more on what matters.',
  'Many companies in your space struggle to keep up with demand, and we built a simple way to fix that.',
  'Our customers usually see a faster turnaround within the first month.',
  'I would love to learn how {company} approaches growth this year.',
  'Would you be open to a short call next week to see whether this could help?',
  'I put together a few ideas specific to {company} that I would be happy to share.',
  'It looks like {company} is growing quickly, so congratulations on the progress.',
  'A few of your peers have already cut their costs noticeably with our approach.',
  'Setting things up takes less than a day and needs no changes to your current tools.',
  'If the timing is not right, just let me know and I will not follow up again.',
  'I noticed a couple of small things on your site that could bring in more enquiries.',
  'Happy to send over a short case study if that is easier than a call.',
] as const;
const SIGN_OFF = ['\n\nBest', ' regards,', '\nAlex'] as const;

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
  return value.length === 0 ? null : value.slice(0, 60);
}

/**
 * A deterministic outreach message of exactly `tokenCount` tokens (a token is a word with its
 * leading space or line break), chosen from a small vocabulary by `seed`.
 */
export function simulatedMessageTokens(details: PromptDetails, seed: number, tokenCount: number): string[] {
  const random = new SeededRandom(seed);
  const company = details.company ?? 'your company';
  const greeting = details.name
    ? random.pick(GREETINGS_NAMED).replace('{name}', details.name)
    : random.pick(GREETINGS_ANONYMOUS).replace('{company}', company);
  const bodyCount = Math.max(0, tokenCount - SIGN_OFF.length);
  const tokens: string[] = [];
  pushWords(tokens, greeting, bodyCount, '');
  let separator = '\n\n';
  // Consecutive sentences differ; the whole list is cycled before one repeats.
  const order = shuffled(random, SENTENCES.length);
  for (let i = 0; tokens.length < bodyCount; i++) {
    const sentence = SENTENCES[order[i % order.length]!]!.replaceAll('{company}', company);
    pushWords(tokens, sentence, bodyCount, separator);
    separator = ' ';
  }
  const last = tokens.length - 1;
  if (last >= 0 && !/[.,?!]$/.test(tokens[last]!)) tokens[last] += '.';
  for (const word of SIGN_OFF) {
    if (tokens.length < tokenCount) tokens.push(tokens.length === 0 ? word.trimStart() : word);
  }
  return tokens;
}

function pushWords(tokens: string[], text: string, limit: number, separator: string): void {
  const words = text.split(' ');
  for (let i = 0; i < words.length && tokens.length < limit; i++) {
    const lead = tokens.length === 0 ? '' : i === 0 ? separator : ' ';
    tokens.push(lead + words[i]);
  }
}

function shuffled(random: SeededRandom, length: number): number[] {
  const order = Array.from({ length }, (_, i) => i);
  for (let i = length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
