import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { ConfigInvalidError } from '../../errors.js';
import type { ScrapeOutcome, ScrapeResult } from './scrape-result.js';
import { Scraper, type ScraperOptions } from './scraper.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';

/** The test sites are reached by name, allowlisted and pinned to 127.0.0.1 like the site farm. */
const SITE = 'site.test';

async function site(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = await startTestServer(handler);
  onTestFinished(() => server.close());
  return server;
}

function scraper(options: Partial<ScraperOptions> = {}): Scraper {
  const instance = new Scraper({
    allowHosts: [SITE],
    resolve: { [SITE]: '127.0.0.1' },
    retryBaseDelayMs: 10,
    ...options,
  });
  onTestFinished(() => instance.close());
  return instance;
}

function urlOf(server: TestServer, path = '/'): string {
  return `http://${SITE}:${server.port}${path}`;
}

function page(outcome: ScrapeOutcome): ScrapeResult {
  if (!outcome.ok) throw new Error(`expected a page, got ${outcome.kind}: ${outcome.reason}`);
  return outcome.page;
}

function html(res: ServerResponse, body: string | Buffer, contentType = 'text/html; charset=utf-8'): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A ~20 KB page like the site farm's: head, scripts, then prose. */
function ordinaryPage(title: string): string {
  const prose = 'Quality widgets since 1999, shipped from our workshop to your door. '.repeat(280);
  return (
    `<!DOCTYPE html><html><head><title>${title}</title>` +
    '<meta name="description" content="We make widgets.">' +
    `<script>var config = ${JSON.stringify({ a: 1 })};</script></head>` +
    `<body><main><h1>${title}</h1><p>${prose}</p></main></body></html>`
  );
}

describe('Scraper', () => {
  it('extracts the title, description and opening text of a page', async () => {
    const server = await site((_req, res) =>
      html(
        res,
        '<html><head><title> Acme  Widgets </title><meta name="description" content="Widgets &amp; gadgets">' +
          '<style>body { color: red }</style></head><body><h1>Welcome</h1><p>We sell <b>fine</b> widgets.</p>' +
          '<script>alert("no")</script></body></html>',
      ),
    );
    const result = page(await scraper().scrape(urlOf(server, '/home')));
    expect(result).toMatchObject({
      finalUrl: urlOf(server, '/home'),
      httpStatus: 200,
      title: 'Acme Widgets',
      description: 'Widgets & gadgets',
      excerpt: 'Welcome We sell fine widgets.',
      truncated: false,
      attempts: 1,
    });
  });

  it('stops reading a 5 MB page once the excerpt is full', async () => {
    const body = Buffer.from(
      '<html><head><title>Big</title></head><body>' +
        '<p>lots of words here</p>'.repeat(210_000) +
        '</body></html>',
    );
    expect(body.length).toBeGreaterThan(5_000_000);
    const server = await site((_req, res) => html(res, body));
    const result = page(await scraper({ excerptChars: 200 }).scrape(urlOf(server)));
    expect(result.excerpt).toHaveLength(200);
    expect(result.title).toBe('Big');
    expect(result.bytesRead).toBeLessThan(100_000);
  });

  it('keeps one keep-alive connection for pages that stop early', async () => {
    const server = await site((_req, res) => html(res, ordinaryPage('Ordinary')));
    const client = scraper({ perHostConcurrency: 1 });
    for (let i = 0; i < 10; i++) {
      const result = page(await client.scrape(urlOf(server, `/p${i}`)));
      expect(result.bytesRead).toBeLessThan(Buffer.byteLength(ordinaryPage('Ordinary')));
    }
    expect(server.requests).toBe(10);
    expect(server.connections).toBe(1);
  });

  it('cuts off the rest of a page that trickles in after the excerpt, freeing the host', async () => {
    const server = await site((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write(`<title>Trickle</title><p>${'word '.repeat(200)}</p>`);
      const timer = setInterval(() => res.write('<p>more</p>'), 20);
      res.once('close', () => clearInterval(timer));
    });
    const client = scraper({ perHostConcurrency: 1, totalTimeoutMs: 300, excerptChars: 100 });
    const first = page(await client.scrape(urlOf(server, '/1')));
    const second = page(await client.scrape(urlOf(server, '/2')));
    expect([first.title, second.title]).toEqual(['Trickle', 'Trickle']);
    expect(server.connections).toBe(2);
  });

  it('stops at the body cap and marks the page truncated', async () => {
    const script = `<script>${'x'.repeat(50_000)}</script>`;
    const server = await site((_req, res) =>
      html(res, `<html><head><title>Capped</title>${script}</head><body><p>Text.</p></body></html>`),
    );
    const result = page(await scraper({ maxBodyBytes: 10_000 }).scrape(urlOf(server)));
    expect(result).toMatchObject({ title: 'Capped', excerpt: '', truncated: true });
    expect(result.bytesRead).toBeLessThanOrEqual(10_000);
  });

  it('reports a 404 at once, after one request', async () => {
    const server = await site((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not here</h1>');
    });
    const outcome = await scraper().scrape(urlOf(server));
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'http_status',
      reason: 'HTTP 404 Not Found',
      attempts: 1,
    });
    expect(server.requests).toBe(1);
  });

  it('retries a 500 and succeeds when the next try answers 200', async () => {
    const server = await site((_req, res) => {
      if (server.requests === 1) {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('oops');
      } else {
        html(res, '<title>Back</title><p>Up again.</p>');
      }
    });
    const result = page(await scraper().scrape(urlOf(server)));
    expect(result).toMatchObject({ title: 'Back', excerpt: 'Up again.', attempts: 2 });
    expect(server.requests).toBe(2);
  });

  it('gives up on a persistent 500 after the configured retries', async () => {
    const server = await site((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const outcome = await scraper({ retries: 2 }).scrape(urlOf(server));
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'http_status',
      reason: 'HTTP 503 Service Unavailable',
      attempts: 3,
    });
    expect(server.requests).toBe(3);
  });

  it('times out on a server that never answers', async () => {
    const server = await site(() => {});
    const outcome = await scraper({ headersTimeoutMs: 200, retries: 0 }).scrape(urlOf(server));
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'timeout',
      reason: 'timeout waiting for headers after 200 ms',
    });
  });

  it('times out on a body that trickles in slower than the whole-request limit allows', async () => {
    const server = await site((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<html><head><title>Slow</title></head><body>');
      const timer = setInterval(() => res.write(' '), 20);
      res.once('close', () => clearInterval(timer));
    });
    const outcome = await scraper({ totalTimeoutMs: 300, retries: 0 }).scrape(urlOf(server));
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'timeout',
      reason: 'timeout: no complete response after 300 ms',
    });
  });

  it('reports a connection reset', async () => {
    const server = await site((req) => req.socket.destroy());
    const outcome = await scraper({ retries: 1 }).scrape(urlOf(server));
    expect(outcome).toMatchObject({ ok: false, kind: 'connection_reset', attempts: 2 });
    expect(server.requests).toBe(2);
  });

  it('reports a refused connection', async () => {
    const server = await startTestServer(() => {});
    const url = urlOf(server);
    await server.close();
    const outcome = await scraper({ retries: 0 }).scrape(url);
    expect(outcome).toMatchObject({ ok: false, kind: 'connect', reason: 'connection refused' });
  });

  it('reports a name that does not resolve as a DNS failure', async () => {
    const noSuchHost = (_hostname: string, _options: unknown, callback: (err: Error) => void): void => {
      process.nextTick(
        callback,
        Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' }),
      );
    };
    const client = new Scraper({}, noSuchHost as unknown as LookupFunction);
    onTestFinished(() => client.close());
    expect(await client.scrape('http://nowhere.test/')).toMatchObject({
      ok: false,
      kind: 'dns',
      reason: 'DNS: no such host (ENOTFOUND)',
      attempts: 1,
    });
  });

  it('follows redirects and reports the final URL', async () => {
    const server = await site((req, res) => {
      if (req.url === '/old') {
        res.writeHead(301, { location: `${urlOf(server, '/newer')}` });
        res.end();
      } else if (req.url === '/newer') {
        res.writeHead(302, { location: '/newest?x=1' });
        res.end('moved');
      } else {
        html(res, '<title>Newest</title><p>Here.</p>');
      }
    });
    const result = page(await scraper().scrape(urlOf(server, '/old')));
    expect(result).toMatchObject({ finalUrl: urlOf(server, '/newest?x=1'), title: 'Newest', attempts: 1 });
  });

  it('refuses a chain of more redirects than allowed', async () => {
    const server = await site((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(302, { location: `/${n + 1}` });
      res.end();
    });
    const outcome = await scraper({ maxRedirects: 3 }).scrape(urlOf(server, '/0'));
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'too_many_redirects',
      reason: 'too many redirects (4)',
    });
    expect(server.requests).toBe(4);
  });

  it('never has more requests in flight to one host than perHostConcurrency', async () => {
    const server = await site((_req, res) => {
      setTimeout(() => html(res, '<title>t</title><p>x</p>'), 30);
    });
    const client = scraper({ perHostConcurrency: 3 });
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, (_, i) => client.scrape(urlOf(server, `/${i}`))),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(server.maxConcurrent).toBeLessThanOrEqual(3);
    expect(server.maxConcurrent).toBeGreaterThan(1);
    expect(server.connections).toBeLessThanOrEqual(3);
  });

  it('forgets hosts once their scrapes are done', async () => {
    const server = await site((_req, res) => html(res, '<title>t</title>'));
    const client = scraper({ perHostConcurrency: 1 });
    const pending = Promise.all([client.scrape(urlOf(server, '/a')), client.scrape(urlOf(server, '/b'))]);
    expect(client.stats()).toEqual({ inFlight: 2, hosts: 1 });
    await pending;
    // A host's slot is freed when its connection is, which may trail the result by a drained rest.
    await vi.waitFor(() => expect(client.stats()).toEqual({ inFlight: 0, hosts: 0 }));
  });

  it('refuses a page that is not HTML', async () => {
    const server = await site((_req, res) => html(res, '%PDF-1.7 ...', 'application/pdf'));
    const outcome = await scraper().scrape(urlOf(server));
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'not_html',
      reason: 'not HTML (content-type application/pdf)',
      attempts: 1,
    });
  });

  it('accepts HTML served without a content-type', async () => {
    const server = await site((_req, res) => res.end('<title>Bare</title><p>No headers.</p>'));
    expect(page(await scraper().scrape(urlOf(server)))).toMatchObject({
      title: 'Bare',
      excerpt: 'No headers.',
    });
  });

  it('refuses a binary body served without a content-type', async () => {
    const server = await site((_req, res) =>
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])),
    );
    const outcome = await scraper().scrape(urlOf(server));
    expect(outcome).toMatchObject({ ok: false, kind: 'not_html' });
  });

  it('decodes a latin1 page named by its content-type', async () => {
    const server = await site((_req, res) =>
      html(
        res,
        Buffer.from('<title>Caf\xe9</title><p>cr\xe8me br\xfbl\xe9e</p>', 'latin1'),
        'text/html; charset=ISO-8859-1',
      ),
    );
    expect(page(await scraper().scrape(urlOf(server)))).toMatchObject({
      title: 'Café',
      excerpt: 'crème brûlée',
    });
  });

  it('reports an unparsable URL and a non-HTTP scheme as invalid', async () => {
    const client = scraper();
    expect(await client.scrape('not a url')).toMatchObject({
      ok: false,
      kind: 'invalid_url',
      reason: 'invalid URL: "not a url"',
      attempts: 0,
    });
    expect(await client.scrape('ftp://site.test/file')).toMatchObject({
      ok: false,
      kind: 'invalid_url',
      reason: 'invalid URL: ftp: is not http: or https: ("ftp://site.test/file")',
    });
  });

  it('waits for scrapes in flight on close and refuses new ones after', async () => {
    const server = await site((_req, res) => {
      setTimeout(() => html(res, '<title>late</title>'), 100);
    });
    const client = scraper();
    const pending = client.scrape(urlOf(server));
    await sleep(10);
    await client.close();
    expect(page(await pending).title).toBe('late');
    await expect(client.scrape(urlOf(server))).rejects.toThrow('scrape() called after close()');
  });

  it('rejects invalid options with every problem listed', () => {
    const attempt = () =>
      new Scraper({
        perHostConcurrency: 0,
        retries: -1,
        allowHosts: ['exa*mple.com'],
        resolve: { 'a.test': 'nope' },
      });
    expect(attempt).toThrow(ConfigInvalidError);
    try {
      attempt();
    } catch (err) {
      expect((err as ConfigInvalidError).problems).toEqual([
        'perHostConcurrency: must be an integer >= 1 (got 0)',
        'retries: must be an integer >= 0 (got -1)',
        'allowHosts: "exa*mple.com" may only use * as its first label, as in *.example.com',
        'resolve["a.test"]: "nope" is not an IP address',
      ]);
    }
  });
});
