import { createHash } from 'node:crypto';

/**
 * A short, stable hash of a configuration value: object keys are sorted, so the same settings
 * written in another order hash the same. Functions and undefined values are left out, as
 * JSON does.
 */
export function configHash(value: unknown): string {
  const digest = createHash('sha256')
    .update(stableJson(value) ?? 'null')
    .digest('hex');
  return `sha256:${digest.slice(0, 16)}`;
}

function stableJson(value: unknown): string | undefined {
  if (Array.isArray(value)) return `[${value.map((v) => stableJson(v) ?? 'null').join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .flatMap((key) => {
        const inner = stableJson((value as Record<string, unknown>)[key]);
        return inner === undefined ? [] : [`${JSON.stringify(key)}:${inner}`];
      });
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) as string | undefined;
}
