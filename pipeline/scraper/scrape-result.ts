/** What the scraper extracted from one page. Small on purpose: it travels in the AI job's payload. */
export interface ScrapeResult {
  /** URL after redirects. */
  finalUrl: string;
  httpStatus: number;
  title: string;
  description: string;
  /** The first visible-text characters of the body (scripts, styles and markup removed). */
  excerpt: string;
  /** Body bytes read; reading stops once title, description and excerpt are complete. */
  bytesRead: number;
  /** True when the body-size cap stopped the read before extraction was complete. */
  truncated: boolean;
  attempts: number;
  durationMs: number;
}

/** Why a scrape failed, as a stable kind plus a human reason stored on the row. */
export type ScrapeFailureKind =
  | 'invalid_url'
  | 'ssrf_refused'
  | 'dns'
  | 'connect'
  | 'timeout'
  | 'connection_reset'
  | 'http_status'
  | 'too_many_redirects'
  | 'not_html';

export type ScrapeOutcome =
  | { ok: true; page: ScrapeResult }
  | { ok: false; kind: ScrapeFailureKind; reason: string; attempts: number; durationMs: number };
