import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ConfigInvalidError } from '../../errors.js';
import { hashString, SeededRandom } from './seeded-random.js';
import { listenSimulator } from './simulator-server.js';
import { SitePagePool } from './site-page-pool.js';

/** Options of the site farm; every field has a default. */
export interface SiteFarmOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Number of sites, named site-0 … site-(sites−1); default 1000. */
  sites?: number;
  /** Domain under which the sites live; default `sites.test`. */
  hostSuffix?: string;
  /** Seed of every random choice (pages, latency, faults); default 1. */
  seed?: number;
  /** Lognormal response latency per request; default median 300 ms, sigma 0.5. */
  latency?: { medianMs: number; sigma: number };
  /** Lognormal page size; default median 20,000 bytes, sigma 0.3. */
  pageBytes?: { medianBytes: number; sigma: number };
  /**
   * Fault rates in 0..1, default 0. `notFound` is a property of the URL (the same URLs always
   * answer 404); the others are drawn per request.
   */
  faults?: { notFound?: number; serverError?: number; reset?: number; timeout?: number; slowBody?: number };
}

/** Requests by outcome, counted when the outcome is drawn (before the latency). */
export interface SiteFarmStats {
  /** TCP connections accepted; far fewer than requests when clients keep connections alive. */
  connections: number;
  requests: number;
  ok: number;
  notFound: number;
  serverError: number;
  reset: number;
  timeout: number;
  slowBody: number;
  /** Requests whose Host is not one of the farm's sites (answered 404). */
  unknownHost: number;
  /** Body bytes of the complete responses sent (slow bodies count once finished). */
  bodyBytes: number;
}

/** A running site farm. */
export interface SiteFarm {
  /** Base URL of the listening socket, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  hostSuffix: string;
  /** The URL standing for one CSV row: rows spread over the sites so keep-alive connections are reused. */
  siteUrl(row: number): string;
  stats(): SiteFarmStats;
  /** Stops listening and drops every connection, including held (timeout, slow body) ones. */
  close(): Promise<void>;
}

/** A slow body trickles this many bytes every interval: far too slow for any scraper's timeout. */
const SLOW_BODY_CHUNK_BYTES = 8;
const SLOW_BODY_INTERVAL_MS = 2_000;
/** Bytes sent at once before a slow body starts trickling. */
const SLOW_BODY_FIRST_BYTES = 1_024;

const HTML_TYPE = 'text/html; charset=utf-8';
const NOT_FOUND_PAGE = Buffer.from(
  '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>' +
    '<body><h1>Not Found</h1><p>The requested page was not found on this server.</p></body></html>\n',
);
const SERVER_ERROR_PAGE = Buffer.from(
  '<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>' +
    '<body><h1>Internal Server Error</h1><p>Please try again later.</p></body></html>\n',
);

type Outcome = 'ok' | 'notFound' | 'serverError' | 'reset' | 'timeout' | 'slowBody' | 'unknownHost';

/** Starts one HTTP server standing in for many websites, told apart by the Host header. */
export async function startSiteFarm(opts: SiteFarmOptions = {}): Promise<SiteFarm> {
  const config = resolveOptions(opts);
  const pages = new SitePagePool(config.seed, config.pageBytes.medianBytes, config.pageBytes.sigma);
  const random = new SeededRandom(hashString('site-farm-requests', config.seed));
  const faults = config.faults;
  // Cumulative thresholds: one uniform draw picks the per-request fault.
  const resetBelow = faults.reset;
  const serverErrorBelow = resetBelow + faults.serverError;
  const timeoutBelow = serverErrorBelow + faults.timeout;
  const slowBodyBelow = timeoutBelow + faults.slowBody;
  // 404 is a property of the URL: its hash, scaled to [0, 1), below the rate.
  const notFoundBelowHash = Math.floor(faults.notFound * 4294967296);
  const hostTail = `.${config.hostSuffix}`;
  const stats: SiteFarmStats = {
    connections: 0,
    requests: 0,
    ok: 0,
    notFound: 0,
    serverError: 0,
    reset: 0,
    timeout: 0,
    slowBody: 0,
    unknownHost: 0,
    bodyBytes: 0,
  };

  function siteHost(hostHeader: string | undefined): string | undefined {
    if (hostHeader === undefined) return undefined;
    const colon = hostHeader.lastIndexOf(':');
    const host = (colon === -1 ? hostHeader : hostHeader.slice(0, colon)).toLowerCase();
    if (!host.startsWith('site-') || !host.endsWith(hostTail)) return undefined;
    const index = host.slice(5, host.length - hostTail.length);
    // Digits only, no leading zeros: one site has one name.
    if (!/^(0|[1-9]\d*)$/.test(index) || Number(index) >= config.sites) return undefined;
    return host;
  }

  function chooseOutcome(host: string | undefined, path: string): Outcome {
    if (host === undefined) return 'unknownHost';
    if (
      notFoundBelowHash > 0 &&
      hashString(path, hashString(host, config.seed ^ 0x404)) < notFoundBelowHash
    ) {
      return 'notFound';
    }
    const u = random.next();
    if (u < resetBelow) return 'reset';
    if (u < serverErrorBelow) return 'serverError';
    if (u < timeoutBelow) return 'timeout';
    if (u < slowBodyBelow) return 'slowBody';
    return 'ok';
  }

  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    host: string | undefined,
    outcome: Outcome,
  ): void {
    if (res.destroyed) return;
    switch (outcome) {
      case 'ok': {
        const page = pages.render(host!, req.url ?? '/');
        res.writeHead(200, ['Content-Type', HTML_TYPE, 'Content-Length', String(page.sizeBytes)]);
        const [s0, s1, s2, s3, s4] = page.statics as [Buffer, Buffer, Buffer, Buffer, Buffer];
        // Node corks the socket for the writes of one tick: this leaves as one writev, not five packets.
        res.write(s0);
        res.write(page.title, 'latin1');
        res.write(s1);
        res.write(page.description, 'latin1');
        res.write(s2);
        res.write(page.heading, 'latin1');
        res.write(s3);
        res.write(page.lead, 'latin1');
        res.end(s4);
        stats.bodyBytes += page.sizeBytes;
        return;
      }
      case 'notFound':
      case 'unknownHost':
        res.writeHead(404, ['Content-Type', HTML_TYPE, 'Content-Length', String(NOT_FOUND_PAGE.length)]);
        res.end(NOT_FOUND_PAGE);
        stats.bodyBytes += NOT_FOUND_PAGE.length;
        return;
      case 'serverError':
        res.writeHead(500, ['Content-Type', HTML_TYPE, 'Content-Length', String(SERVER_ERROR_PAGE.length)]);
        res.end(SERVER_ERROR_PAGE);
        stats.bodyBytes += SERVER_ERROR_PAGE.length;
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'timeout':
        // Never answered: the socket stays open until the client gives up or the farm closes.
        return;
      case 'slowBody':
        trickle(res, pages.render(host!, req.url ?? '/'));
        return;
    }
  }

  function trickle(res: ServerResponse, page: ReturnType<SitePagePool['render']>): void {
    const s = page.statics;
    const body = Buffer.concat([
      s[0]!,
      Buffer.from(page.title, 'latin1'),
      s[1]!,
      Buffer.from(page.description, 'latin1'),
      s[2]!,
      Buffer.from(page.heading, 'latin1'),
      s[3]!,
      Buffer.from(page.lead, 'latin1'),
      s[4]!,
    ]);
    res.writeHead(200, ['Content-Type', HTML_TYPE, 'Content-Length', String(body.length)]);
    let sent = Math.min(SLOW_BODY_FIRST_BYTES, body.length);
    res.write(body.subarray(0, sent));
    const timer = setInterval(() => {
      const next = Math.min(sent + SLOW_BODY_CHUNK_BYTES, body.length);
      if (next === body.length) {
        clearInterval(timer);
        res.end(body.subarray(sent));
        stats.bodyBytes += body.length;
      } else {
        res.write(body.subarray(sent, next));
      }
      sent = next;
    }, SLOW_BODY_INTERVAL_MS);
    timer.unref();
    res.once('close', () => clearInterval(timer));
  }

  const latency = config.latency;
  const server = createServer((req, res) => {
    stats.requests++;
    const host = siteHost(req.headers.host);
    const outcome = chooseOutcome(host, req.url ?? '/');
    stats[outcome]++;
    // Whole milliseconds: Node keeps one timer list per distinct duration, and equal ones share it.
    const delayMs = Math.round(
      latency.sigma === 0 ? latency.medianMs : random.logNormal(latency.medianMs, latency.sigma),
    );
    if (delayMs < 1) {
      respond(req, res, host, outcome);
      return;
    }
    // Unref'd: a pending reply must not keep a process alive once the farm is closed.
    setTimeout(respond, delayMs, req, res, host, outcome).unref();
  });
  server.on('connection', () => stats.connections++);
  const listening = await listenSimulator(server, config);
  const port = listening.port;
  return {
    url: listening.origin,
    port,
    hostSuffix: config.hostSuffix,
    siteUrl: (row) => siteUrlFor(row, config.sites, config.hostSuffix, port),
    stats: () => ({ ...stats }),
    close: listening.close,
  };
}

/** The URL of a CSV row on a site farm: `http://site-${row % sites}.${hostSuffix}:${port}/company/${row}`. */
export function siteUrlFor(row: number, sites: number, hostSuffix: string, port: number): string {
  return `http://site-${row % sites}.${hostSuffix}:${port}/company/${row}`;
}

interface ResolvedSiteFarmOptions {
  host: string;
  port: number;
  sites: number;
  hostSuffix: string;
  seed: number;
  latency: { medianMs: number; sigma: number };
  pageBytes: { medianBytes: number; sigma: number };
  faults: { notFound: number; serverError: number; reset: number; timeout: number; slowBody: number };
}

function resolveOptions(opts: SiteFarmOptions): ResolvedSiteFarmOptions {
  const config: ResolvedSiteFarmOptions = {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    sites: opts.sites ?? 1000,
    hostSuffix: (opts.hostSuffix ?? 'sites.test').toLowerCase(),
    seed: opts.seed ?? 1,
    latency: opts.latency ?? { medianMs: 300, sigma: 0.5 },
    pageBytes: opts.pageBytes ?? { medianBytes: 20_000, sigma: 0.3 },
    faults: {
      notFound: opts.faults?.notFound ?? 0,
      serverError: opts.faults?.serverError ?? 0,
      reset: opts.faults?.reset ?? 0,
      timeout: opts.faults?.timeout ?? 0,
      slowBody: opts.faults?.slowBody ?? 0,
    },
  };
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    problems.push(`port: must be an integer in 0..65535 (got ${config.port})`);
  }
  if (!Number.isInteger(config.sites) || config.sites < 1) {
    problems.push(`sites: must be an integer >= 1 (got ${config.sites})`);
  }
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(config.hostSuffix)) {
    problems.push(`hostSuffix: must be a domain name such as sites.test (got "${config.hostSuffix}")`);
  }
  if (!Number.isInteger(config.seed)) problems.push(`seed: must be an integer (got ${config.seed})`);
  if (!(config.latency.medianMs >= 0) || !(config.latency.sigma >= 0)) {
    problems.push(
      `latency: medianMs and sigma must be >= 0 (got ${config.latency.medianMs}, ${config.latency.sigma})`,
    );
  }
  if (!(config.pageBytes.medianBytes >= 1) || !(config.pageBytes.sigma >= 0)) {
    problems.push(
      `pageBytes: medianBytes must be >= 1 and sigma >= 0 (got ${config.pageBytes.medianBytes}, ${config.pageBytes.sigma})`,
    );
  }
  let perRequest = 0;
  for (const [name, rate] of Object.entries(config.faults)) {
    if (!(rate >= 0 && rate <= 1)) problems.push(`faults.${name}: must be in 0..1 (got ${rate})`);
    else if (name !== 'notFound') perRequest += rate;
  }
  if (perRequest > 1 + 1e-9) {
    problems.push(`faults: serverError + reset + timeout + slowBody must be <= 1 (got ${perRequest})`);
  }
  if (problems.length > 0) throw new ConfigInvalidError('site farm options', problems);
  return config;
}
