import type { SeededRandom } from '../pipeline/sim/seeded-random.js';

/** Draws over a range from a seeded generator: the benches' worlds are drawn, never picked. */
export const uniform = (r: SeededRandom, [lo, hi]: readonly [number, number]) => lo + (hi - lo) * r.next();
/** Log-uniform: each decade of the range as likely as the next (latencies, rates, slots). */
export const logUniform = (r: SeededRandom, [lo, hi]: readonly [number, number]) =>
  Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * r.next());
export const intLog = (r: SeededRandom, range: readonly [number, number]) => Math.round(logUniform(r, range));
