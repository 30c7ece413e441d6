/** A rate as people write it: `1000/min`, `16.7/s`, `50000/h`, or a bare number of rows per second. */
export const RATE_PATTERN = '^[0-9]+(\\.[0-9]+)?(/(s|sec|min|h|hour))?$';

const PER_SECOND: Record<string, number> = { s: 1, sec: 1, min: 60, h: 3600, hour: 3600 };

/** Parses a rate into rows per second; undefined when the text is not a rate. */
export function parseRate(text: string): number | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)(?:\/(s|sec|min|h|hour))?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  return value / PER_SECOND[match[2] ?? 's']!;
}
