/** The longest URL accepted; browsers and most servers cap URLs near this length. */
export const MAX_URL_CHARS = 2048;

// Reasons quote the offending value; a long value is cut so one bad row cannot bloat the report.
const QUOTED_VALUE_CHARS = 80;

/**
 * Normalises a website as a person typed it: a bare domain (`acme.com`, `www.acme.com/about`)
 * gets `https://`; the result is the WHATWG serialisation of the URL, which also serves as the
 * duplicate key. Only http and https URLs whose host has a dot (or is an IP address) pass.
 * Returns the URL, or the problem to report, which quotes the value.
 */
export function normalizeWebsiteUrl(raw: string): string | { problem: string } {
  if (raw.length > MAX_URL_CHARS) return { problem: `URL longer than ${MAX_URL_CHARS} characters` };
  let colon = -1;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    // The URL parser silently drops tabs and newlines and escapes spaces: a URL with them is a typo.
    if (c <= 0x20) return { problem: `invalid URL ${quoteValue(raw)} (contains whitespace)` };
    if (c === 0x3a && colon === -1) colon = i;
  }
  let candidate = raw;
  const validScheme = colon > 0 && isScheme(raw, colon);
  const slashes = colon > 0 && raw.charCodeAt(colon + 1) === 0x2f && raw.charCodeAt(colon + 2) === 0x2f;
  if (slashes && !validScheme) return { problem: `invalid URL ${quoteValue(raw)}` };
  // `acme.com:8080/x` is a host and port, though the URL parser would read `acme.com:` as a
  // scheme: what follows a scheme's colon is never a digit, while a port always is.
  if (slashes || (validScheme && !isDigit(raw.charCodeAt(colon + 1)))) {
    const scheme = raw.slice(0, colon).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') {
      return { problem: `invalid URL ${quoteValue(raw)} (only http and https are accepted)` };
    }
  } else {
    candidate = `https://${raw}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(candidate);
  } catch {
    return { problem: `invalid URL ${quoteValue(raw)}` };
  }
  const host = parsed.hostname;
  const dot = host.indexOf('.');
  const ipv6 = host.charCodeAt(0) === 0x5b; // [
  if (!ipv6 && (dot <= 0 || dot === host.length - 1)) {
    return {
      problem: `invalid URL ${quoteValue(raw)} (the host needs a domain with a dot, or an IP address)`,
    };
  }
  const href = parsed.href;
  if (href.length > MAX_URL_CHARS) return { problem: `URL longer than ${MAX_URL_CHARS} characters` };
  return href;
}

/** A value for a message: JSON-quoted (so control characters show) and cut when long. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > QUOTED_VALUE_CHARS ? `${value.slice(0, QUOTED_VALUE_CHARS)}…` : value);
}

/** RFC 3986: a letter, then letters, digits, `+`, `-` or `.`. */
function isScheme(raw: string, colon: number): boolean {
  for (let i = 0; i < colon; i++) {
    const c = raw.charCodeAt(i);
    const lower = c | 0x20;
    if (lower >= 0x61 && lower <= 0x7a) continue;
    if (i === 0 || !(isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e)) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
