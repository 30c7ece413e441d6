import { isIP } from 'node:net';

/**
 * Host patterns mapped to values: `example.com` matches that host only, `*.sites.test` matches every
 * name below `sites.test` (at any depth) but not `sites.test` itself. IP literals are patterns too
 * (`127.0.0.1`, `::1`). Matching ignores case, a trailing dot and the brackets of an IPv6 literal.
 */
export class HostPatternMap<T> {
  readonly #exact = new Map<string, T>();
  /** Keyed by the suffix with its leading dot (`.sites.test`). */
  readonly #suffixes = new Map<string, T>();

  /** Throws a `RangeError` naming the pattern when one is malformed. */
  constructor(entries: Iterable<readonly [pattern: string, value: T]>) {
    for (const [pattern, value] of entries) {
      const problem = patternProblem(pattern);
      if (problem !== undefined) throw new RangeError(`host pattern "${pattern}" ${problem}`);
      const host = normalizeHost(pattern);
      if (host.startsWith('*.')) this.#suffixes.set(host.slice(1), value);
      else this.#exact.set(host, value);
    }
  }

  get size(): number {
    return this.#exact.size + this.#suffixes.size;
  }

  /** The value of the most specific pattern matching `hostname`, or undefined. */
  get(hostname: string): T | undefined {
    const host = normalizeHost(hostname);
    const exact = this.#exact.get(host);
    if (exact !== undefined || this.#suffixes.size === 0 || isIP(host) !== 0) return exact;
    // Longest suffix first, so `*.a.sites.test` wins over `*.sites.test`.
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const value = this.#suffixes.get(host.slice(dot));
      if (value !== undefined) return value;
    }
    return undefined;
  }

  has(hostname: string): boolean {
    return this.get(hostname) !== undefined;
  }
}

/** Lower case, without an IPv6 literal's brackets or a fully-qualified name's trailing dot. */
export function normalizeHost(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** Why `pattern` is not a usable host pattern, or undefined when it is. */
export function patternProblem(pattern: string): string | undefined {
  const host = normalizeHost(pattern);
  if (host === '') return 'is empty';
  if (isIP(host) !== 0) return undefined;
  if (host === '*') return 'would match every host; name the domains instead, as in *.example.com';
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.includes('*')) return 'may only use * as its first label, as in *.example.com';
  if (name === '' || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) return 'is not a host name';
  return undefined;
}
