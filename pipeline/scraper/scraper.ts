import { isIP, type LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { ConfigInvalidError } from '../../errors.js';
import { type AttemptResult, type AttemptSettings, FetchAttempt } from './fetch-attempt.js';
import { HostLimiter } from './host-limiter.js';
import { patternProblem } from './host-pattern-map.js';
import { PageExtractor } from './page-extractor.js';
import type { ScrapeFailureKind, ScrapeOutcome } from './scrape-result.js';
import { SsrfGuard, ssrfReason } from './ssrf-guard.js';

/** How the scraper fetches pages; every field has a default in `DEFAULT_SCRAPER_OPTIONS`. */
export interface ScraperOptions {
  /** TCP (and TLS) connect. */
  connectTimeoutMs: number;
  /** From sending the request to the end of the response headers. */
  headersTimeoutMs: number;
  /** Longest silence between two body chunks. */
  bodyTimeoutMs: number;
  /** One request from dispatch to its last needed byte, so a body that trickles in still ends. */
  totalTimeoutMs: number;
  /** Reading stops past this many body bytes; the page is then marked `truncated`. */
  maxBodyBytes: number;
  /** At most this many requests in flight per host (hostname and port). */
  perHostConcurrency: number;
  /** Extra tries after a 5xx, a timeout, a reset or a connect error. */
  retries: number;
  /** The n-th retry waits retryBaseDelayMs × 2^(n−1), scaled by a random factor in [0.5, 1). */
  retryBaseDelayMs: number;
  maxRedirects: number;
  excerptChars: number;
  userAgent: string;
  /** Host patterns (`example.com`, `*.sites.test`) allowed to resolve to private addresses. */
  allowHosts: string[];
  /** Host pattern → IP address, used instead of DNS, like curl --resolve. */
  resolve: Record<string, string>;
}

/** The defaults of `ScraperOptions`. */
export const DEFAULT_SCRAPER_OPTIONS: ScraperOptions = Object.freeze({
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  totalTimeoutMs: 20_000,
  maxBodyBytes: 1_048_576,
  perHostConcurrency: 4,
  retries: 2,
  retryBaseDelayMs: 250,
  maxRedirects: 5,
  excerptChars: 500,
  userAgent: 'headroom-scraper/0.1 (+https://github.com/headroom)',
  allowHosts: Object.freeze([]) as unknown as string[],
  resolve: Object.freeze({}),
});

/**
 * Extractors kept for reuse. A parser per page would be garbage on the hot path; beyond this many
 * idle ones a burst's extras are left to the collector.
 */
const MAX_SPARE_EXTRACTORS = 256;

/** Longest part of a bad URL quoted back in a reason. */
const MAX_QUOTED_URL_CHARS = 200;

/**
 * Fetches pages and extracts their title, description and opening text, behind an SSRF guard.
 * One keep-alive connection pool per origin, shared by every scrape.
 */
export class Scraper {
  readonly #options: ScraperOptions;
  readonly #guard: SsrfGuard;
  readonly #agent: Agent;
  readonly #limiter: HostLimiter;
  readonly #settings: AttemptSettings;
  readonly #spareExtractors: PageExtractor[] = [];
  #inFlight = 0;
  #closing: Promise<void> | undefined;
  #onIdle: (() => void) | undefined;

  /**
   * Throws `ConfigInvalidError` on invalid options. `dnsLookup` replaces `dns.lookup` (tests use it
   * to make a name resolve to a chosen address).
   */
  constructor(options: Partial<ScraperOptions> = {}, dnsLookup?: LookupFunction) {
    const opts: ScraperOptions = { ...DEFAULT_SCRAPER_OPTIONS, ...options };
    const problems = optionProblems(opts);
    if (problems.length > 0) throw new ConfigInvalidError('scraper options', problems);
    this.#options = opts;
    this.#guard = new SsrfGuard(opts, dnsLookup);
    this.#limiter = new HostLimiter(opts.perHostConcurrency);
    this.#agent = new Agent({
      // The host limiter admits perHostConcurrency requests per host: one connection each.
      connections: opts.perHostConcurrency,
      pipelining: 1,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      connect: { timeout: opts.connectTimeoutMs, lookup: this.#guard.lookup },
    });
    this.#settings = {
      dispatcher: this.#agent,
      headers: {
        'user-agent': opts.userAgent,
        accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
      },
      connectTimeoutMs: opts.connectTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs,
      totalTimeoutMs: opts.totalTimeoutMs,
      maxBodyBytes: opts.maxBodyBytes,
      takeExtractor: () => this.#spareExtractors.pop() ?? new PageExtractor(opts.excerptChars),
      returnExtractor: (extractor) => {
        if (this.#spareExtractors.length >= MAX_SPARE_EXTRACTORS) return;
        extractor.reset(); // drops the page's text now rather than when the extractor is next used
        this.#spareExtractors.push(extractor);
      },
      releaseHost: (host) => this.#limiter.release(host),
    };
  }

  /**
   * Fetches `url` (following redirects, retrying transient failures) and extracts the page.
   * Resolves with `{ ok: false, kind, reason }` for anything a site or its URL can do wrong;
   * rejects only when the scraper is closed.
   */
  async scrape(url: string): Promise<ScrapeOutcome> {
    if (this.#closing !== undefined) throw new Error('scrape() called after close()');
    this.#inFlight++;
    try {
      return await this.#scrape(url, performance.now());
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#onIdle?.();
    }
  }

  /** Scrapes not yet finished, and hosts with a request in flight or waiting. */
  stats(): { inFlight: number; hosts: number } {
    return { inFlight: this.#inFlight, hosts: this.#limiter.hosts };
  }

  /** Waits for scrapes in flight, then closes every connection. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.#onIdle = resolve;
        });
      }
      await this.#agent.close();
    })();
    return this.#closing;
  }

  async #scrape(url: string, startedAt: number): Promise<ScrapeOutcome> {
    let attempts = 0;
    const failure = (kind: ScrapeFailureKind, reason: string): ScrapeOutcome => ({
      ok: false,
      kind,
      reason,
      attempts,
      durationMs: performance.now() - startedAt,
    });

    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return failure('invalid_url', `invalid URL: ${quote(url)}`);
    }
    for (let redirects = 0; ; redirects++) {
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        return failure(
          'invalid_url',
          `invalid URL: ${target.protocol} is not http: or https: (${quote(target.href)})`,
        );
      }
      const refusal = this.#guard.checkHost(target.hostname);
      if (refusal !== undefined) {
        return failure('ssrf_refused', ssrfReason(refusal));
      }

      if (attempts === 0) attempts = 1;
      let result: AttemptResult;
      for (let retry = 0; ; retry++) {
        result = await this.#fetchOnce(target);
        if (result.type !== 'failure' || !result.retryable || retry >= this.#options.retries) break;
        attempts++;
        await sleep(this.#options.retryBaseDelayMs * 2 ** retry * (0.5 + Math.random() * 0.5));
      }

      if (result.type === 'failure') return failure(result.kind, result.reason);
      if (result.type === 'page') {
        return {
          ok: true,
          page: {
            finalUrl: target.href,
            httpStatus: result.httpStatus,
            title: result.title,
            description: result.description,
            excerpt: result.excerpt,
            bytesRead: result.bytesRead,
            truncated: result.truncated,
            attempts,
            durationMs: performance.now() - startedAt,
          },
        };
      }
      if (redirects >= this.#options.maxRedirects) {
        return failure('too_many_redirects', `too many redirects (${redirects + 1})`);
      }
      try {
        target = new URL(result.location, target);
      } catch {
        return failure('invalid_url', `invalid URL: redirect to ${quote(result.location)}`);
      }
    }
  }

  /**
   * The host's slot is held until undici is done with the request, which may be a little after the
   * result (a short rest of the body is drained to keep the connection): so the slots in use are
   * the connections in use, and a request never queues inside undici behind a draining one.
   */
  async #fetchOnce(target: URL): Promise<AttemptResult> {
    if (!this.#limiter.tryAcquire(target.host)) await this.#limiter.acquire(target.host);
    return new FetchAttempt(this.#settings).run(target);
  }
}

function quote(text: string): string {
  const shown = text.length > MAX_QUOTED_URL_CHARS ? `${text.slice(0, MAX_QUOTED_URL_CHARS)}…` : text;
  return JSON.stringify(shown);
}

function optionProblems(opts: ScraperOptions): string[] {
  const problems: string[] = [];
  const integerAtLeast = (field: keyof ScraperOptions, min: number): void => {
    const value = opts[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      problems.push(`${field}: must be an integer >= ${min} (got ${JSON.stringify(value)})`);
    }
  };
  integerAtLeast('connectTimeoutMs', 1);
  integerAtLeast('headersTimeoutMs', 1);
  integerAtLeast('bodyTimeoutMs', 1);
  integerAtLeast('totalTimeoutMs', 1);
  integerAtLeast('maxBodyBytes', 1);
  integerAtLeast('perHostConcurrency', 1);
  integerAtLeast('retries', 0);
  integerAtLeast('retryBaseDelayMs', 0);
  integerAtLeast('maxRedirects', 0);
  integerAtLeast('excerptChars', 1);
  if (typeof opts.userAgent !== 'string' || opts.userAgent === '' || /[\r\n]/.test(opts.userAgent)) {
    problems.push('userAgent: must be a non-empty string on one line');
  }
  if (!Array.isArray(opts.allowHosts)) {
    problems.push('allowHosts: must be an array of host patterns');
  } else {
    for (const pattern of opts.allowHosts) {
      const problem = typeof pattern === 'string' ? patternProblem(pattern) : 'is not a string';
      if (problem !== undefined) problems.push(`allowHosts: "${String(pattern)}" ${problem}`);
    }
  }
  if (typeof opts.resolve !== 'object' || opts.resolve === null || Array.isArray(opts.resolve)) {
    problems.push('resolve: must be an object mapping host patterns to IP addresses');
  } else {
    for (const [pattern, address] of Object.entries(opts.resolve)) {
      const problem = patternProblem(pattern);
      if (problem !== undefined) problems.push(`resolve: "${pattern}" ${problem}`);
      if (typeof address !== 'string' || isIP(address) === 0) {
        problems.push(`resolve["${pattern}"]: ${JSON.stringify(address)} is not an IP address`);
      }
    }
  }
  return problems;
}
