import { normalQuantile } from '../pipeline/sim/normal-quantile.js';

/**
 * A straight line fitted by ordinary least squares, with the 95 % confidence interval of its slope
 * (Student's t with n − 2 degrees of freedom). The leak test uses it on heap-after-GC samples:
 * a verdict from a fitted slope and its interval, not from a start-versus-end difference, which one
 * GC at the wrong moment can swing either way.
 */
export interface LinearTrend {
  n: number;
  slope: number;
  intercept: number;
  /** Standard error of the slope. */
  slopeStdError: number;
  /** 95 % confidence interval of the slope. */
  slopeLow: number;
  slopeHigh: number;
  /** Coefficient of determination (0..1). */
  rSquared: number;
}

/** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5 % quantile of Student's t: a table to 30, then the Cornish–Fisher expansion (error < 0.001). */
export function tQuantile975(df: number): number {
  if (df < 1) return Number.POSITIVE_INFINITY;
  if (df <= 30) return T975[Math.floor(df) - 1]!;
  const z = 1.959964;
  const z3 = z ** 3;
  const z5 = z ** 5;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df);
}

/**
 * Any quantile of Student's t with `df` ≥ 3 degrees of freedom, from the normal quantile by the
 * Cornish–Fisher expansion to four terms (error under 0.5 % from 7 degrees of freedom at p 0.999).
 */
export function tQuantile(p: number, df: number): number {
  if (df < 1) return Number.POSITIVE_INFINITY;
  const z = normalQuantile(p);
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  return (
    z +
    (z3 + z) / (4 * df) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3)
  );
}

/** Fits y = intercept + slope·x; needs at least 3 points for an interval. */
export function fitLinearTrend(xs: readonly number[], ys: readonly number[]): LinearTrend {
  const n = xs.length;
  if (n !== ys.length) throw new Error('x and y must have the same length');
  if (n < 3) throw new Error(`a trend needs at least 3 samples (got ${n})`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) throw new Error('all samples were taken at the same time: no trend can be fitted');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const sse = Math.max(0, syy - slope * sxy);
  const slopeStdError = Math.sqrt(sse / (n - 2) / sxx);
  const half = tQuantile975(n - 2) * slopeStdError;
  return {
    n,
    slope,
    intercept,
    slopeStdError,
    slopeLow: slope - half,
    slopeHigh: slope + half,
    rSquared: syy === 0 ? 1 : 1 - sse / syy,
  };
}
