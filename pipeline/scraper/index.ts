export { extractPage, PageExtractor, type PageFields } from './page-extractor.js';
export type { ScrapeFailureKind, ScrapeOutcome, ScrapeResult } from './scrape-result.js';
export { DEFAULT_SCRAPER_OPTIONS, Scraper, type ScraperOptions } from './scraper.js';
export { refusedRange, SsrfGuard, type SsrfGuardOptions, ssrfReason } from './ssrf-guard.js';
