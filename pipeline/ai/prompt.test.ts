import { describe, expect, it } from 'vitest';
import type { ScrapeResult } from '../scraper/scrape-result.js';
import { findPromptDetails } from '../sim/simulated-message.js';
import { buildPrompt } from './prompt.js';

const PAGE: ScrapeResult = {
  finalUrl: 'http://site-3.sites.test/company/3',
  httpStatus: 200,
  title: 'Redwood Roofing | Makes complex work simple',
  description: 'Redwood Roofing makes complex work simple for growing startups.',
  excerpt: 'Welcome to Redwood Roofing. We build roofs that last.',
  bytesRead: 4_096,
  truncated: false,
  attempts: 1,
  durationMs: 301,
};

const ROW = {
  company: 'Redwood Roofing',
  name: 'Dana Smith',
  notes: 'Met at the trade fair',
  url: 'http://site-3.sites.test/company/3',
};

describe('buildPrompt', () => {
  it('asks for a short personalised outreach message in a system message', () => {
    const [system] = buildPrompt(ROW, PAGE);
    expect(system!.role).toBe('system');
    expect(system!.content).toMatch(/personalised outreach message/);
  });

  it('gives the row and the scraped page in the user message', () => {
    const [, user] = buildPrompt(ROW, PAGE);
    expect(user!.role).toBe('user');
    expect(user!.content).toContain('Company: Redwood Roofing\n');
    expect(user!.content).toContain('Contact: Dana Smith\n');
    expect(user!.content).toContain('Notes: Met at the trade fair\n');
    expect(user!.content).toContain(`Website: ${PAGE.finalUrl}\n`);
    expect(user!.content).toContain(`Page title: ${PAGE.title}\n`);
    expect(user!.content).toContain(`Page description: ${PAGE.description}\n`);
    expect(user!.content).toContain(`Page excerpt: ${PAGE.excerpt}\n`);
  });

  it('leaves out the fields a row or page does not have', () => {
    const [, user] = buildPrompt(
      { company: null, name: null, notes: null, url: 'http://a.test/' },
      { ...PAGE, finalUrl: '', description: '', excerpt: '' },
    );
    expect(user!.content).not.toMatch(/Company:|Contact:|Notes:|Page description:|Page excerpt:/);
    expect(user!.content).toContain('Website: http://a.test/\n');
  });

  it('bounds the prompt and keeps each field on one line', () => {
    const huge = `line one\nline two ${'word '.repeat(5_000)}`;
    const [system, user] = buildPrompt(
      { ...ROW, notes: huge, company: huge },
      { ...PAGE, excerpt: huge, description: huge },
    );
    expect(system!.content.length + user!.content.length).toBeLessThan(3_000);
    expect(user!.content).toContain('Company: line one line two word');
    expect(user!.content.split('\n').filter((line) => line.startsWith('Notes: ')).length).toBe(1);
  });

  it('names the company and the contact the way the LLM simulator reads them', () => {
    const [, user] = buildPrompt(ROW, PAGE);
    expect(findPromptDetails(user!.content)).toEqual({ company: 'Redwood Roofing', name: 'Dana Smith' });
  });

  it('falls back to the page title for the company name when the row has none', () => {
    const [, user] = buildPrompt({ ...ROW, company: null, name: null }, PAGE);
    expect(findPromptDetails(user!.content)).toEqual({ company: 'Redwood Roofing', name: null });
  });
});
