import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { SsrfRefusedError } from '../../errors.js';
import { HostPatternMap, normalizeHost } from './host-pattern-map.js';

/** What the guard lets through besides public addresses. */
export interface SsrfGuardOptions {
  /** Host patterns (`example.com`, `*.sites.test`, `127.0.0.1`) allowed to reach refused addresses. */
  allowHosts: readonly string[];
  /** Host pattern → IP address, used instead of DNS (like curl's --resolve). */
  resolve: Readonly<Record<string, string>>;
}

/** Names that reach a cloud provider's instance metadata service from inside an instance. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'metadata.goog']);

const METADATA_RANGE = 'cloud metadata';

/**
 * Address ranges a scrape must not reach, most specific first (the metadata address sits inside
 * link-local, the AWS IPv6 one inside unique-local). IPv4 rules also match the IPv4-mapped IPv6
 * form of their addresses (`::ffff:127.0.0.1`): `BlockList` does that mapping itself.
 */
const REFUSED_RANGES: ReadonlyArray<readonly [range: string, subnets: ReadonlyArray<string>]> = [
  [METADATA_RANGE, ['169.254.169.254/32', 'fd00:ec2::254/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fec0::/10']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['carrier-grade NAT', ['100.64.0.0/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['broadcast', ['255.255.255.255/32']],
  // IETF protocol assignments, benchmarking, the old class E, and IPv4-compatible IPv6 (::a.b.c.d).
  ['reserved', ['192.0.0.0/24', '198.18.0.0/15', '240.0.0.0/4', '::/96']],
];

function buildBlockList(subnets: Iterable<string>): BlockList {
  const list = new BlockList();
  for (const subnet of subnets) {
    const [address = '', prefix = ''] = subnet.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

const ANY_REFUSED = buildBlockList(REFUSED_RANGES.flatMap(([, subnets]) => subnets));
const BY_RANGE = REFUSED_RANGES.map(([range, subnets]) => [range, buildBlockList(subnets)] as const);

/** The name of the refused range holding `address` ('private', 'loopback', …), or undefined if public. */
export function refusedRange(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  // One check answers the common case (a public address); the per-range lists only name a hit.
  if (!ANY_REFUSED.check(address, type)) return undefined;
  for (const [range, list] of BY_RANGE) if (list.check(address, type)) return range;
  return 'reserved';
}

/** The short, stable reason stored on a row the guard refused. */
export function ssrfReason(err: SsrfRefusedError): string {
  if (err.range === METADATA_RANGE && err.address === '')
    return `refused ${err.host}: cloud metadata host (SSRF guard)`;
  const what = err.host === err.address ? err.address : `${err.host} (${err.address})`;
  return `refused ${what}: ${err.range} address (SSRF guard)`;
}

/**
 * Refuses scrapes of loopback, private, link-local and other internal addresses unless the host
 * is allowlisted. Names are checked after DNS resolution, inside the socket's `lookup`, so the
 * address checked is the address connected to; IP literals, which `net.connect` never looks up,
 * must be checked with `checkHost` before connecting.
 */
export class SsrfGuard {
  readonly #allowHosts: HostPatternMap<true>;
  readonly #resolve: HostPatternMap<LookupAddress>;
  readonly #dnsLookup: LookupFunction;

  /** Pass as `connect.lookup` to the undici Agent (or `lookup` to net.connect). */
  readonly lookup: LookupFunction;

  /** Throws a `RangeError` on a malformed host pattern or a `resolve` value that is not an IP address. */
  constructor(options: SsrfGuardOptions, lookup: LookupFunction = dnsLookup) {
    this.#allowHosts = new HostPatternMap(options.allowHosts.map((pattern) => [pattern, true] as const));
    this.#resolve = new HostPatternMap(
      Object.entries(options.resolve).map(([pattern, address]) => {
        const family = isIP(address);
        if (family === 0) throw new RangeError(`resolve["${pattern}"]: "${address}" is not an IP address`);
        return [pattern, { address, family }] as const;
      }),
    );
    this.#dnsLookup = lookup;
    this.lookup = (hostname, options, callback) => this.#lookup(hostname, options, callback);
  }

  /** True when `hostname` matches an `allowHosts` pattern. */
  isAllowed(hostname: string): boolean {
    return this.#allowHosts.has(hostname);
  }

  /**
   * Checks what can be decided from a URL's host alone: IP literals and metadata host names.
   * Returns the refusal, or undefined when the host may proceed to `lookup`.
   */
  checkHost(hostname: string): SsrfRefusedError | undefined {
    const host = normalizeHost(hostname);
    if (isIP(host) !== 0) {
      const range = refusedRange(host);
      if (range === undefined || this.#allowHosts.has(host)) return undefined;
      return new SsrfRefusedError(host, host, range);
    }
    if (METADATA_HOSTS.has(host) && !this.#allowHosts.has(host)) {
      return new SsrfRefusedError(host, '', METADATA_RANGE);
    }
    return undefined;
  }

  #lookup(hostname: string, options: LookupOptions, callback: Parameters<LookupFunction>[2]): void {
    const refusal = this.checkHost(hostname);
    if (refusal !== undefined) {
      process.nextTick(callback, refusal, '');
      return;
    }
    const pinned = this.#resolve.get(hostname);
    if (pinned !== undefined) {
      // Asynchronous like a real lookup: net attaches its handlers after calling lookup.
      process.nextTick(() => this.#answer(hostname, [pinned], options, callback));
      return;
    }
    // Always ask for every address: a name with one public and one private address must be refused
    // whichever of them the socket would try first.
    this.#dnsLookup(hostname, { ...options, all: true }, (err, addresses, family) => {
      if (err) {
        callback(err, '');
        return;
      }
      const list =
        typeof addresses === 'string'
          ? [{ address: addresses, family: family ?? isIP(addresses) }]
          : addresses;
      this.#answer(hostname, list, options, callback);
    });
  }

  #answer(
    hostname: string,
    addresses: LookupAddress[],
    options: LookupOptions,
    callback: Parameters<LookupFunction>[2],
  ): void {
    const first = addresses[0];
    if (first === undefined) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      err.code = 'ENOTFOUND';
      callback(err, '');
      return;
    }
    if (!this.#allowHosts.has(hostname)) {
      for (const { address } of addresses) {
        const range = refusedRange(address);
        if (range !== undefined) {
          callback(new SsrfRefusedError(normalizeHost(hostname), address, range), '');
          return;
        }
      }
    }
    // net asks for every address (`all: true`) when it races IPv4 and IPv6 (autoSelectFamily, on by
    // default in Node 20), and for a single one otherwise.
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  }
}
