import { describe, expect, it } from 'vitest';
import { HostPatternMap, patternProblem } from './host-pattern-map.js';

describe('HostPatternMap', () => {
  it('matches an exact name ignoring case and a trailing dot', () => {
    const map = new HostPatternMap([['Example.com', 1]]);
    expect(map.get('example.com')).toBe(1);
    expect(map.get('EXAMPLE.COM.')).toBe(1);
    expect(map.get('www.example.com')).toBeUndefined();
  });

  it('matches a wildcard below its domain at any depth, but not the domain itself', () => {
    const map = new HostPatternMap([['*.sites.test', true]]);
    expect(map.has('a.sites.test')).toBe(true);
    expect(map.has('a.b.sites.test')).toBe(true);
    expect(map.has('sites.test')).toBe(false);
    expect(map.has('evilsites.test')).toBe(false);
  });

  it('prefers the most specific pattern', () => {
    const map = new HostPatternMap([
      ['*.test', 'any'],
      ['*.sites.test', 'sites'],
      ['one.sites.test', 'one'],
    ]);
    expect(map.get('one.sites.test')).toBe('one');
    expect(map.get('two.sites.test')).toBe('sites');
    expect(map.get('other.test')).toBe('any');
  });

  it('matches IPv6 literals with or without brackets', () => {
    const map = new HostPatternMap([['[::1]', true]]);
    expect(map.has('::1')).toBe(true);
    expect(map.has('[::1]')).toBe(true);
  });

  it('rejects malformed patterns', () => {
    expect(patternProblem('')).toBe('is empty');
    expect(patternProblem('a.*.test')).toBe('may only use * as its first label, as in *.example.com');
    expect(patternProblem('*')).toBe('would match every host; name the domains instead, as in *.example.com');
    expect(patternProblem('has space.test')).toBe('is not a host name');
    expect(() => new HostPatternMap([['a..b', true]])).toThrow('host pattern "a..b" is not a host name');
  });
});
