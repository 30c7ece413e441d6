import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SsrfRefusedError } from '../../errors.js';
import { Scraper, type ScraperOptions } from './scraper.js';
import { refusedRange, SsrfGuard } from './ssrf-guard.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';

/** A DNS stand-in: fixed answers, every question recorded. No query leaves the process. */
function fakeDns(answers: Record<string, string[]>): LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    asked.push(hostname);
    const addresses = answers[hostname];
    if (addresses === undefined) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      err.code = 'ENOTFOUND';
      process.nextTick(callback, err, '');
      return;
    }
    const list = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all) process.nextTick(callback, null, list);
    else process.nextTick(callback, null, list[0]!.address, list[0]!.family);
  };
  return Object.assign(lookup, { asked });
}

function lookupOnce(guard: SsrfGuard, hostname: string, options: LookupOptions) {
  return new Promise<{ err: Error | null; address: string | LookupAddress[]; family?: number }>((resolve) => {
    guard.lookup(hostname, options, (err, address, family) => resolve({ err, address, family }));
  });
}

async function site(): Promise<TestServer> {
  const server = await startTestServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<title>Local</title><p>Reached.</p>');
  });
  onTestFinished(() => server.close());
  return server;
}

function scraper(options: Partial<ScraperOptions> = {}, dns = fakeDns({})): Scraper {
  const instance = new Scraper({ retries: 0, ...options }, dns);
  onTestFinished(() => instance.close());
  return instance;
}

describe('refusedRange', () => {
  it('names the range of internal addresses', () => {
    expect(refusedRange('127.0.0.1')).toBe('loopback');
    expect(refusedRange('::1')).toBe('loopback');
    expect(refusedRange('10.0.0.5')).toBe('private');
    expect(refusedRange('172.31.255.255')).toBe('private');
    expect(refusedRange('192.168.1.1')).toBe('private');
    expect(refusedRange('fd12:3456::1')).toBe('private');
    expect(refusedRange('169.254.169.254')).toBe('cloud metadata');
    expect(refusedRange('169.254.10.1')).toBe('link-local');
    expect(refusedRange('fe80::1')).toBe('link-local');
    expect(refusedRange('100.64.0.1')).toBe('carrier-grade NAT');
    expect(refusedRange('0.0.0.0')).toBe('unspecified');
    expect(refusedRange('::')).toBe('unspecified');
    expect(refusedRange('224.0.0.251')).toBe('multicast');
    expect(refusedRange('ff02::1')).toBe('multicast');
    expect(refusedRange('255.255.255.255')).toBe('broadcast');
  });

  it('sees through IPv4-mapped IPv6 addresses', () => {
    expect(refusedRange('::ffff:127.0.0.1')).toBe('loopback');
    expect(refusedRange('::ffff:7f00:1')).toBe('loopback');
    expect(refusedRange('::ffff:10.1.2.3')).toBe('private');
    expect(refusedRange('::ffff:a9fe:a9fe')).toBe('cloud metadata');
  });

  it('lets public addresses through', () => {
    for (const address of [
      '8.8.8.8',
      '93.184.216.34',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
    ]) {
      expect(refusedRange(address), address).toBeUndefined();
    }
  });
});

describe('SsrfGuard.lookup', () => {
  it('refuses a name that resolves to a loopback address', async () => {
    const guard = new SsrfGuard({ allowHosts: [], resolve: {} }, fakeDns({ 'evil.test': ['127.0.0.1'] }));
    const { err } = await lookupOnce(guard, 'evil.test', { all: true });
    expect(err).toBeInstanceOf(SsrfRefusedError);
    expect(err).toMatchObject({ host: 'evil.test', address: '127.0.0.1', range: 'loopback' });
  });

  it('refuses a name when any of its addresses is internal', async () => {
    const guard = new SsrfGuard(
      { allowHosts: [], resolve: {} },
      fakeDns({ 'mixed.test': ['93.184.216.34', '10.0.0.7'] }),
    );
    const { err } = await lookupOnce(guard, 'mixed.test', { all: false });
    expect(err).toMatchObject({ address: '10.0.0.7', range: 'private' });
  });

  it('answers in the shape net asked for', async () => {
    const guard = new SsrfGuard(
      { allowHosts: [], resolve: {} },
      fakeDns({ 'public.test': ['93.184.216.34'] }),
    );
    expect(await lookupOnce(guard, 'public.test', { all: true })).toEqual({
      err: null,
      address: [{ address: '93.184.216.34', family: 4 }],
    });
    expect(await lookupOnce(guard, 'public.test', {})).toEqual({
      err: null,
      address: '93.184.216.34',
      family: 4,
    });
  });

  it('lets an allowlisted name resolve to a loopback address', async () => {
    const guard = new SsrfGuard(
      { allowHosts: ['*.farm.test'], resolve: {} },
      fakeDns({ 'a.farm.test': ['127.0.0.1'] }),
    );
    expect(await lookupOnce(guard, 'a.farm.test', {})).toEqual({
      err: null,
      address: '127.0.0.1',
      family: 4,
    });
  });

  it('pins names with resolve without asking DNS, and still refuses them unless allowlisted', async () => {
    const dns = fakeDns({});
    const guard = new SsrfGuard(
      { allowHosts: ['ok.test'], resolve: { 'ok.test': '127.0.0.1', 'no.test': '127.0.0.1' } },
      dns,
    );
    expect(await lookupOnce(guard, 'ok.test', { all: true })).toEqual({
      err: null,
      address: [{ address: '127.0.0.1', family: 4 }],
    });
    expect((await lookupOnce(guard, 'no.test', {})).err).toMatchObject({ range: 'loopback' });
    expect(dns.asked).toEqual([]);
  });

  it('refuses cloud metadata names before asking DNS', async () => {
    const dns = fakeDns({ 'metadata.google.internal': ['93.184.216.34'] });
    const guard = new SsrfGuard({ allowHosts: [], resolve: {} }, dns);
    expect((await lookupOnce(guard, 'metadata.google.internal', {})).err).toMatchObject({
      range: 'cloud metadata',
    });
    expect(dns.asked).toEqual([]);
  });
});

describe('Scraper behind the SSRF guard', () => {
  it('refuses http://127.0.0.1 without connecting', async () => {
    const server = await site();
    const outcome = await scraper().scrape(`http://127.0.0.1:${server.port}/`);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused 127.0.0.1: loopback address (SSRF guard)',
      attempts: 0,
    });
    expect(server.connections).toBe(0);
  });

  it('refuses a private literal before any connect', async () => {
    const dns = fakeDns({});
    const outcome = await scraper({}, dns).scrape('http://10.0.0.1/');
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused 10.0.0.1: private address (SSRF guard)',
      attempts: 0,
    });
    expect(dns.asked).toEqual([]);
  });

  it('refuses loopback written as a decimal or hexadecimal number', async () => {
    const client = scraper();
    for (const url of ['http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/']) {
      expect(await client.scrape(url), url).toMatchObject({
        kind: 'ssrf_refused',
        reason: 'refused 127.0.0.1: loopback address (SSRF guard)',
      });
    }
  });

  it('refuses the cloud metadata address', async () => {
    const outcome = await scraper().scrape('http://169.254.169.254/latest/meta-data/');
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused 169.254.169.254: cloud metadata address (SSRF guard)',
    });
  });

  it('refuses the cloud metadata host name', async () => {
    const outcome = await scraper().scrape('http://metadata.google.internal/computeMetadata/v1/');
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused metadata.google.internal: cloud metadata host (SSRF guard)',
    });
  });

  it('refuses IPv6 loopback and IPv4-mapped loopback', async () => {
    const server = await site();
    const client = scraper();
    expect(await client.scrape(`http://[::1]:${server.port}/`)).toMatchObject({
      kind: 'ssrf_refused',
      reason: 'refused ::1: loopback address (SSRF guard)',
    });
    expect(await client.scrape(`http://[::ffff:127.0.0.1]:${server.port}/`)).toMatchObject({
      kind: 'ssrf_refused',
      reason: 'refused ::ffff:7f00:1: loopback address (SSRF guard)',
    });
    expect(server.connections).toBe(0);
  });

  it('refuses a name that resolves to 127.0.0.1 or 10.1.2.3', async () => {
    const server = await site();
    const client = scraper({}, fakeDns({ 'loop.test': ['127.0.0.1'], 'inside.test': ['10.1.2.3'] }));
    expect(await client.scrape(`http://loop.test:${server.port}/`)).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused loop.test (127.0.0.1): loopback address (SSRF guard)',
      attempts: 1,
    });
    expect(await client.scrape('http://inside.test/')).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused inside.test (10.1.2.3): private address (SSRF guard)',
    });
    expect(server.connections).toBe(0);
  });

  it('reaches an allowlisted name that resolves to 127.0.0.1', async () => {
    const server = await site();
    const client = scraper({ allowHosts: ['loop.test'] }, fakeDns({ 'loop.test': ['127.0.0.1'] }));
    const outcome = await client.scrape(`http://loop.test:${server.port}/`);
    expect(outcome).toMatchObject({ ok: true, page: { title: 'Local' } });
  });

  it('reaches an allowlisted host pinned to 127.0.0.1 by resolve', async () => {
    const server = await site();
    const client = scraper({ allowHosts: ['*.sites.test'], resolve: { '*.sites.test': '127.0.0.1' } });
    const outcome = await client.scrape(`http://site-7.sites.test:${server.port}/`);
    expect(outcome).toMatchObject({ ok: true, page: { title: 'Local', excerpt: 'Reached.' } });
    expect(server.requests).toBe(1);
  });

  it('refuses a redirect from an allowlisted site to another local port or the metadata address', async () => {
    const other = await site();
    const redirector = await startTestServer((req, res) => {
      res.writeHead(302, {
        location: req.url === '/to-metadata' ? 'http://169.254.169.254/' : `http://127.0.0.1:${other.port}/`,
      });
      res.end();
    });
    onTestFinished(() => redirector.close());
    const client = scraper({ allowHosts: ['farm.test'], resolve: { 'farm.test': '127.0.0.1' } });
    expect(await client.scrape(`http://farm.test:${redirector.port}/to-local`)).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused 127.0.0.1: loopback address (SSRF guard)',
    });
    expect(await client.scrape(`http://farm.test:${redirector.port}/to-metadata`)).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused 169.254.169.254: cloud metadata address (SSRF guard)',
    });
    expect(redirector.requests).toBe(2);
    expect(other.connections).toBe(0);
  });

  it('refuses a redirect to a name that resolves to a private address', async () => {
    const redirector = await startTestServer((_req, res) => {
      res.writeHead(301, { location: 'http://inside.test/admin' });
      res.end();
    });
    onTestFinished(() => redirector.close());
    const client = scraper(
      { allowHosts: ['farm.test'], resolve: { 'farm.test': '127.0.0.1' } },
      fakeDns({ 'inside.test': ['10.1.2.3'] }),
    );
    expect(await client.scrape(`http://farm.test:${redirector.port}/`)).toMatchObject({
      ok: false,
      kind: 'ssrf_refused',
      reason: 'refused inside.test (10.1.2.3): private address (SSRF guard)',
    });
  });
});
