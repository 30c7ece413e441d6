import { performance } from 'node:perf_hooks';
import { Pool, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError } from '../../errors.js';
import { type SiteFarm, type SiteFarmOptions, startSiteFarm } from './site-farm.js';

/** A farm without latency unless a test asks for it: tests must not wait for the default 300 ms. */
async function farmWith(opts: SiteFarmOptions = {}): Promise<SiteFarm> {
  const farm = await startSiteFarm({ latency: { medianMs: 0, sigma: 0 }, ...opts });
  onTestFinished(() => farm.close());
  return farm;
}

/** GETs a site URL from the farm's socket with the site's Host header, as a scraper resolving *.sites.test does. */
function get(farm: SiteFarm, siteUrl: string, opts: { headersTimeout?: number; bodyTimeout?: number } = {}) {
  const url = new URL(siteUrl);
  return request(`${farm.url}${url.pathname}`, { headers: { host: url.host }, ...opts });
}

async function getText(farm: SiteFarm, siteUrl: string): Promise<{ status: number; text: string }> {
  const response = await get(farm, siteUrl);
  return { status: response.statusCode, text: await response.body.text() };
}

describe('startSiteFarm', () => {
  it('spreads rows over its sites in siteUrl', async () => {
    const farm = await farmWith({ sites: 10 });
    expect(farm.siteUrl(1234)).toBe(`http://site-4.sites.test:${farm.port}/company/1234`);
    expect(farm.url).toBe(`http://127.0.0.1:${farm.port}`);
  });

  it('serves a realistic HTML page with a title and a meta description', async () => {
    const farm = await farmWith();
    const response = await get(farm, farm.siteUrl(17));
    const text = await response.body.text();
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(text));
    expect(text.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(text).toMatch(/<title>[A-Z][^<]{10,}<\/title>/);
    expect(text).toMatch(/<meta name="description" content="[A-Z][^"]{20,}">/);
    for (const tag of ['<style>', '<script>', '<nav>', '<h1>', '<h2>', '<p>', '<footer>', '</html>']) {
      expect(text).toContain(tag);
    }
  });

  it('serves the same page for the same URL and different pages for different URLs', async () => {
    const farm = await farmWith();
    const first = await getText(farm, farm.siteUrl(42));
    const again = await getText(farm, farm.siteUrl(42));
    const other = await getText(farm, farm.siteUrl(43));
    expect(again.text).toBe(first.text);
    expect(other.text).not.toBe(first.text);
  });

  it('serves the same pages from another farm with the same seed', async () => {
    const a = await farmWith({ seed: 7 });
    const b = await farmWith({ seed: 7, port: 0 });
    // Ports differ, so compare the same site and path rather than the same URL.
    const pageA = await getText(a, `http://site-3.sites.test:${a.port}/company/3`);
    const pageB = await getText(b, `http://site-3.sites.test:${b.port}/company/3`);
    expect(pageB.text).toBe(pageA.text);
  });

  it('draws page sizes around the configured median', async () => {
    const farm = await farmWith({ pageBytes: { medianBytes: 20_000, sigma: 0.3 } });
    const sizes: number[] = [];
    for (let row = 0; row < 300; row++) sizes.push((await getText(farm, farm.siteUrl(row))).text.length);
    sizes.sort((x, y) => x - y);
    expect(sizes[150]).toBeGreaterThan(16_000);
    expect(sizes[150]).toBeLessThan(24_000);
    // sigma 0.3: the 10th and 90th percentiles sit near 0.68× and 1.47× the median.
    expect(sizes[270]! / sizes[30]!).toBeGreaterThan(1.6);
    expect(sizes[270]! / sizes[30]!).toBeLessThan(2.8);
  });

  it('answers 404 for the same URLs every time', async () => {
    const farm = await farmWith({ faults: { notFound: 0.3 } });
    const statuses = async () => {
      const out: number[] = [];
      for (let row = 0; row < 60; row++) out.push((await getText(farm, farm.siteUrl(row))).status);
      return out;
    };
    const first = await statuses();
    const second = await statuses();
    expect(second).toEqual(first);
    const notFound = first.filter((s) => s === 404).length;
    expect(notFound).toBeGreaterThan(5);
    expect(notFound).toBeLessThan(35);
    expect(first.filter((s) => s === 200).length).toBe(60 - notFound);
    expect(farm.stats().notFound).toBe(2 * notFound);
  });

  it('answers 404 to a Host that is not one of its sites', async () => {
    const farm = await farmWith({ sites: 10 });
    expect((await getText(farm, `http://site-10.sites.test:${farm.port}/company/10`)).status).toBe(404);
    expect((await getText(farm, `http://example.com:${farm.port}/`)).status).toBe(404);
    expect((await getText(farm, `http://site-09.sites.test:${farm.port}/`)).status).toBe(404);
    expect(farm.stats()).toMatchObject({ requests: 3, unknownHost: 3, ok: 0 });
  });

  it('honours the per-request fault rates roughly over many requests', async () => {
    const farm = await farmWith({ faults: { serverError: 0.2, reset: 0.1 } });
    const total = 600;
    let serverErrors = 0;
    let ok = 0;
    let failures = 0;
    for (let row = 0; row < total; row++) {
      try {
        const { status } = await getText(farm, farm.siteUrl(row));
        if (status === 500) serverErrors++;
        else if (status === 200) ok++;
      } catch {
        failures++;
      }
    }
    expect(serverErrors / total).toBeGreaterThan(0.14);
    expect(serverErrors / total).toBeLessThan(0.26);
    expect(failures / total).toBeGreaterThan(0.05);
    expect(failures / total).toBeLessThan(0.15);
    expect(farm.stats()).toMatchObject({ requests: total, serverError: serverErrors, reset: failures, ok });
  });

  it('resets the connection without answering', async () => {
    const farm = await farmWith({ faults: { reset: 1 } });
    const error = await get(farm, farm.siteUrl(1)).then(
      () => undefined,
      (err: unknown) => err as { code?: string },
    );
    expect(error?.code).toMatch(/^(UND_ERR_SOCKET|ECONNRESET)$/);
    expect(farm.stats().reset).toBe(1);
  });

  it('never answers a timed-out request, and still closes promptly', async () => {
    const farm = await startSiteFarm({ latency: { medianMs: 0, sigma: 0 }, faults: { timeout: 1 } });
    const timedOut = await get(farm, farm.siteUrl(1), { headersTimeout: 300 }).then(
      () => undefined,
      (err: unknown) => err as { code?: string },
    );
    expect(timedOut?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    // A request still held by the farm when it closes fails instead of hanging.
    const held = get(farm, farm.siteUrl(2)).then(
      () => 'answered',
      () => 'failed',
    );
    while (farm.stats().requests < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    await farm.close();
    expect(await held).toBe('failed');
    expect(farm.stats().timeout).toBe(2);
  });

  it('sends the headers and a first chunk of a slow body, then trickles the rest', async () => {
    const farm = await farmWith({ faults: { slowBody: 1 } });
    const response = await get(farm, farm.siteUrl(5), { bodyTimeout: 500 });
    expect(response.statusCode).toBe(200);
    let received = 0;
    const error = await (async () => {
      for await (const chunk of response.body) received += (chunk as Buffer).length;
    })().then(
      () => undefined,
      (err: unknown) => err as { code?: string },
    );
    expect(error?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(received).toBeGreaterThanOrEqual(1_024);
    expect(received).toBeLessThan(Number(response.headers['content-length']));
    expect(farm.stats().slowBody).toBe(1);
  });

  it('waits at least the drawn latency before answering', async () => {
    const farm = await farmWith({ latency: { medianMs: 150, sigma: 0 } });
    const startedMs = performance.now();
    await getText(farm, farm.siteUrl(1));
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(145);
  });

  it('keeps connections alive across requests', async () => {
    const farm = await farmWith();
    const pool = new Pool(farm.url, { connections: 1 });
    onTestFinished(() => pool.close());
    let connects = 0;
    pool.on('connect', () => connects++);
    for (let row = 0; row < 5; row++) {
      const url = new URL(farm.siteUrl(row));
      const response = await pool.request({ method: 'GET', path: url.pathname, headers: { host: url.host } });
      await response.body.text();
    }
    expect(connects).toBe(1);
    expect(farm.stats()).toMatchObject({ ok: 5, connections: 1 });
  });

  it('counts requests by outcome and body bytes', async () => {
    const farm = await farmWith();
    const { text } = await getText(farm, farm.siteUrl(9));
    expect(farm.stats()).toEqual({
      connections: 1,
      requests: 1,
      ok: 1,
      notFound: 0,
      serverError: 0,
      reset: 0,
      timeout: 0,
      slowBody: 0,
      unknownHost: 0,
      bodyBytes: Buffer.byteLength(text),
    });
  });

  it('refuses invalid options, naming each field', async () => {
    const error = await startSiteFarm({ sites: 0, faults: { reset: 0.6, serverError: 0.6 } }).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).problems).toEqual([
      'sites: must be an integer >= 1 (got 0)',
      'faults: serverError + reset + timeout + slowBody must be <= 1 (got 1.2)',
    ]);
  });
});
