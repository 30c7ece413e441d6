import { UsageInvalidError } from '../errors.js';

/** Parses a numeric flag once, at the edge, with an error that names the flag and the rule. */
export function numberFlag(
  name: string,
  value: string | undefined,
  rule: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const kind = rule.integer ? 'an integer' : 'a number';
  const bad =
    value.trim() === '' ||
    !Number.isFinite(n) ||
    (rule.integer && !Number.isInteger(n)) ||
    (rule.min !== undefined && n < rule.min) ||
    (rule.max !== undefined && n > rule.max);
  if (bad) {
    const range = [
      rule.min !== undefined ? `>= ${rule.min}` : '',
      rule.max !== undefined ? `<= ${rule.max}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    throw new UsageInvalidError(`--${name} must be ${kind}${range ? ` ${range}` : ''} (got "${value}")`);
  }
  return n;
}

/** Drops undefined fields so option objects only carry what the user set. */
export function defined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
