import { type IncomingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import { SsrfRefusedError } from '../../errors.js';
import { charsetOf, type PageExtractor } from './page-extractor.js';
import type { ScrapeFailureKind } from './scrape-result.js';
import { ssrfReason } from './ssrf-guard.js';

/** How one HTTP request of a scrape ended. */
export type AttemptResult =
  | {
      type: 'page';
      httpStatus: number;
      title: string;
      description: string;
      excerpt: string;
      bytesRead: number;
      truncated: boolean;
    }
  | { type: 'redirect'; httpStatus: number; location: string }
  | { type: 'failure'; kind: ScrapeFailureKind; reason: string; retryable: boolean };

/** What every attempt of one scraper shares. */
export interface AttemptSettings {
  dispatcher: Dispatcher;
  headers: Readonly<Record<string, string>>;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  totalTimeoutMs: number;
  maxBodyBytes: number;
  takeExtractor(): PageExtractor;
  returnExtractor(extractor: PageExtractor): void;
  /** Called once per attempt when undici is done with the request (the connection is free again). */
  releaseHost(host: string): void;
}

/**
 * Once a response has told us what we need (extraction complete, an error status, a redirect),
 * a rest of at most this many bytes is received and dropped, unparsed, so the keep-alive
 * connection can carry the next request; a longer rest is cut off by closing the connection,
 * which costs a new TCP handshake (and TLS) for the next page from that host.
 */
const DRAIN_LIMIT_BYTES = 64 * 1_024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Magic numbers of common non-HTML files served without a content-type. */
const BINARY_SIGNATURES = ['%PDF-', '\x89PNG', 'GIF8', '\xff\xd8\xff', 'PK\x03\x04', '\x1f\x8b'].map((s) =>
  Buffer.from(s, 'latin1'),
);

/** The sentinel reason we abort a request with once its result is settled. */
const SETTLED = new Error('scrape attempt settled');

/**
 * One HTTP GET of one URL, as an undici dispatch handler: the response body streams into a page
 * extractor and the result settles as soon as the extraction is complete. Never rejects for a
 * site's fault. The request itself may outlive the result by a short drain; `releaseHost` tells
 * when it is over.
 */
export class FetchAttempt implements Dispatcher.DispatchHandler {
  readonly #settings: AttemptSettings;
  #resolve: (result: AttemptResult) => void = noop;
  #settled = false;
  #finished = false;
  #host = '';
  #controller: Dispatcher.DispatchController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #extractor: PageExtractor | undefined;
  #sniff = false;
  #httpStatus = 0;
  #contentLength = -1;
  #receivedBytes = 0;
  #parsedBytes = 0;
  #drainBudgetBytes = 0;

  constructor(settings: AttemptSettings) {
    this.#settings = settings;
  }

  /** Sends the request; call once, holding a slot for `url.host` that the attempt releases. */
  run(url: URL): Promise<AttemptResult> {
    const promise = new Promise<AttemptResult>((resolve) => {
      this.#resolve = resolve;
    });
    this.#host = url.host;
    this.#timer = setTimeout(onTotalTimeout, this.#settings.totalTimeoutMs, this);
    // undici reports even a synchronous failure to dispatch through onResponseError.
    this.#settings.dispatcher.dispatch(
      { origin: url.origin, path: url.pathname + url.search, method: 'GET', headers: this.#settings.headers },
      this,
    );
    return promise;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The whole-request deadline passed while the request waited for a connection.
    if (this.#settled) controller.abort(SETTLED);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (this.#settled) return;
    this.#httpStatus = statusCode;
    const contentLength = headers['content-length'];
    if (typeof contentLength === 'string') this.#contentLength = Number(contentLength);

    if (REDIRECT_STATUSES.has(statusCode)) {
      const location = headers.location;
      if (typeof location === 'string' && location !== '') {
        this.#settle({ type: 'redirect', httpStatus: statusCode, location });
      } else {
        this.#fail('http_status', `${statusLine(statusCode)} without a Location header`, false);
      }
      this.#drainOrClose(controller);
      return;
    }
    if (statusCode < 200 || statusCode > 299) {
      this.#fail('http_status', statusLine(statusCode), statusCode >= 500);
      this.#drainOrClose(controller);
      return;
    }
    const contentType = headers['content-type'];
    if (typeof contentType === 'string' && contentType !== '') {
      if (!isHtmlType(contentType)) {
        const mediaType = contentType.split(';', 1)[0]!.trim();
        this.#fail('not_html', `not HTML (content-type ${mediaType})`, false);
        this.#drainOrClose(controller);
        return;
      }
    } else {
      this.#sniff = true;
    }
    this.#extractor = this.#settings.takeExtractor();
    this.#extractor.reset(typeof contentType === 'string' ? charsetOf(contentType) : undefined);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#receivedBytes += chunk.length;
    const extractor = this.#extractor;
    if (extractor === undefined) {
      this.#drainBudgetBytes -= chunk.length;
      if (this.#drainBudgetBytes < 0) controller.abort(SETTLED);
      return;
    }
    if (this.#sniff) {
      this.#sniff = false;
      if (looksBinary(chunk)) {
        this.#fail('not_html', 'not HTML (no content-type; the body looks binary)', false);
        this.#drainOrClose(controller);
        return;
      }
    }
    const room = this.#settings.maxBodyBytes - this.#parsedBytes;
    const fits = chunk.length <= room;
    const done = extractor.write(fits ? chunk : chunk.subarray(0, room));
    this.#parsedBytes += extractor.consumedBytes;
    if (done || !fits || this.#parsedBytes >= this.#settings.maxBodyBytes) {
      this.#settlePage(!done);
      this.#drainOrClose(controller);
    }
  }

  onResponseEnd(): void {
    if (!this.#settled) {
      this.#extractor?.end();
      this.#settlePage(false);
    }
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.#settled) {
      const { kind, reason, retryable } = describeError(err, this.#settings);
      this.#fail(kind, reason, retryable);
    }
    this.#finish();
  }

  /**
   * Called by the whole-request timer. It keeps running while a settled response drains, so a
   * rest that trickles in is cut off too, and the host's slot comes back.
   */
  timeOut(): void {
    this.#fail('timeout', `timeout: no complete response after ${this.#settings.totalTimeoutMs} ms`, true);
    this.#controller?.abort(SETTLED);
  }

  /** undici is done with the request (it ends every request with onResponseEnd or onResponseError). */
  #finish(): void {
    clearTimeout(this.#timer);
    if (this.#finished) return;
    this.#finished = true;
    this.#settings.releaseHost(this.#host);
  }

  #settlePage(truncated: boolean): void {
    const fields = this.#extractor?.fields();
    this.#settle({
      type: 'page',
      httpStatus: this.#httpStatus,
      title: fields?.title ?? '',
      description: fields?.description ?? '',
      excerpt: fields?.excerpt ?? '',
      bytesRead: this.#parsedBytes,
      truncated,
    });
  }

  #fail(kind: ScrapeFailureKind, reason: string, retryable: boolean): void {
    this.#settle({ type: 'failure', kind, reason, retryable });
  }

  #settle(result: AttemptResult): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#extractor !== undefined) {
      this.#settings.returnExtractor(this.#extractor);
      this.#extractor = undefined;
    }
    this.#resolve(result);
  }

  /** After settling: drop a short rest of the body to keep the connection, close it otherwise. */
  #drainOrClose(controller: Dispatcher.DispatchController): void {
    const remainingBytes =
      this.#contentLength >= 0 ? this.#contentLength - this.#receivedBytes : DRAIN_LIMIT_BYTES;
    if (remainingBytes > DRAIN_LIMIT_BYTES) {
      controller.abort(SETTLED);
    } else {
      this.#drainBudgetBytes = remainingBytes;
    }
  }
}

function onTotalTimeout(attempt: FetchAttempt): void {
  attempt.timeOut();
}

function noop(): void {}

function statusLine(statusCode: number): string {
  const text = STATUS_CODES[statusCode];
  return text === undefined ? `HTTP ${statusCode}` : `HTTP ${statusCode} ${text}`;
}

function isHtmlType(contentType: string): boolean {
  const end = contentType.indexOf(';');
  const mediaType = (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return mediaType === 'text/html' || mediaType === 'application/xhtml+xml';
}

function looksBinary(chunk: Buffer): boolean {
  for (const signature of BINARY_SIGNATURES) {
    if (
      chunk.length >= signature.length &&
      chunk.compare(signature, 0, signature.length, 0, signature.length) === 0
    ) {
      return true;
    }
  }
  // Text never holds a NUL byte; binary formats almost always do within their first bytes.
  return chunk.subarray(0, 512).includes(0);
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_)/;

/** Maps a request error (undici's, net's, dns's or the SSRF guard's) to a failure kind and reason. */
export function describeError(
  err: Error,
  limits: Pick<AttemptSettings, 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs'>,
): { kind: ScrapeFailureKind; reason: string; retryable: boolean } {
  if (err instanceof SsrfRefusedError)
    return { kind: 'ssrf_refused', reason: ssrfReason(err), retryable: false };
  const code = (err as NodeJS.ErrnoException).code ?? '';
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return {
        kind: 'timeout',
        reason: `timeout waiting for headers after ${limits.headersTimeoutMs} ms`,
        retryable: true,
      };
    case 'UND_ERR_BODY_TIMEOUT':
      return {
        kind: 'timeout',
        reason: `timeout waiting for body data after ${limits.bodyTimeoutMs} ms`,
        retryable: true,
      };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return {
        kind: 'timeout',
        reason: `timeout connecting after ${limits.connectTimeoutMs} ms`,
        retryable: true,
      };
    case 'ETIMEDOUT':
      return { kind: 'timeout', reason: 'timeout (ETIMEDOUT)', retryable: true };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return { kind: 'connection_reset', reason: 'connection reset', retryable: true };
    case 'UND_ERR_SOCKET':
      return {
        kind: 'connection_reset',
        reason: 'connection closed before the response ended',
        retryable: true,
      };
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return {
        kind: 'connection_reset',
        reason: 'response shorter than its content-length',
        retryable: true,
      };
    case 'ECONNREFUSED':
      return { kind: 'connect', reason: 'connection refused', retryable: true };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return { kind: 'connect', reason: `host unreachable (${code})`, retryable: true };
    case 'ENOTFOUND':
    case 'ENODATA':
      return { kind: 'dns', reason: `DNS: no such host (${code})`, retryable: false };
    case 'EAI_AGAIN':
      return { kind: 'dns', reason: 'DNS: temporary failure (EAI_AGAIN)', retryable: true };
  }
  if (TLS_CODES.test(code)) return { kind: 'connect', reason: `TLS failure (${code})`, retryable: false };
  // llhttp's parse errors: the server does not speak HTTP/1.1 correctly; asking again will not help.
  if (code.startsWith('HPE_'))
    return { kind: 'http_status', reason: `invalid HTTP response (${code})`, retryable: false };
  return { kind: 'connection_reset', reason: `connection failed (${code || err.message})`, retryable: true };
}
