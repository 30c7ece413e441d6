import { describe, expect, it } from 'vitest';
import { normalizeWebsiteUrl } from './website-url.js';

describe('normalizeWebsiteUrl', () => {
  it('returns the WHATWG serialisation of an http or https URL', () => {
    expect(normalizeWebsiteUrl('HTTPS://Acme.COM:443/About?q=1#top')).toBe('https://acme.com/About?q=1#top');
    expect(normalizeWebsiteUrl('http://acme.com')).toBe('http://acme.com/');
  });

  it('prepends https:// to a bare domain, with or without a port and path', () => {
    expect(normalizeWebsiteUrl('acme.com')).toBe('https://acme.com/');
    expect(normalizeWebsiteUrl('www.acme.com/about')).toBe('https://www.acme.com/about');
    expect(normalizeWebsiteUrl('acme.com:8080/x')).toBe('https://acme.com:8080/x');
  });

  it('accepts IPv4 and IPv6 hosts', () => {
    expect(normalizeWebsiteUrl('http://127.0.0.1:41234/a')).toBe('http://127.0.0.1:41234/a');
    expect(normalizeWebsiteUrl('http://[::1]:8080/')).toBe('http://[::1]:8080/');
  });

  it('refuses a host without a dot', () => {
    expect(normalizeWebsiteUrl('localhost:3000')).toEqual({
      problem: 'invalid URL "localhost:3000" (the host needs a domain with a dot, or an IP address)',
    });
    expect(normalizeWebsiteUrl('acme.')).toEqual({
      problem: 'invalid URL "acme." (the host needs a domain with a dot, or an IP address)',
    });
  });

  it('refuses schemes other than http and https', () => {
    for (const raw of ['javascript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'ftp://acme.com']) {
      expect(normalizeWebsiteUrl(raw)).toEqual({
        problem: `invalid URL "${raw}" (only http and https are accepted)`,
      });
    }
  });

  it('refuses whitespace anywhere in the URL', () => {
    expect(normalizeWebsiteUrl('https://acme.com/a b')).toEqual({
      problem: 'invalid URL "https://acme.com/a b" (contains whitespace)',
    });
    expect(normalizeWebsiteUrl('acme\t.com')).toEqual({
      problem: 'invalid URL "acme\\t.com" (contains whitespace)',
    });
  });

  it('cuts a long value in the problem it reports', () => {
    const raw = `ht!tp://${'a'.repeat(200)}`;
    const result = normalizeWebsiteUrl(raw) as { problem: string };
    expect(result.problem).toBe(`invalid URL "${raw.slice(0, 80)}…"`);
  });
});
