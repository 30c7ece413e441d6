/**
 * Gunther's Universal Scalability Law, X(N) = λN / (1 + σ(N−1) + κN(N−1)), fitted by least squares.
 *
 * λ is the throughput of one unit of concurrency when nothing competes, σ the share of work that
 * serialises (contention), κ the cost of keeping N workers coherent (crosstalk, which makes
 * throughput fall past a peak). The fit starts from the linearised form N/X = a + b(N−1) + cN(N−1)
 * (linear in a = 1/λ, b = σ/λ, c = κ/λ) and refines it with Levenberg–Marquardt on the throughput
 * itself, inside the bounds λ > 0, 0 ≤ σ ≤ 1, κ ≥ 0.
 */
export interface UslPoint {
  concurrency: number;
  throughputRps: number;
}

export type UslParameter = 'sigma' | 'kappa';

export interface UslFit {
  /** Rows/s of one unit of concurrency without contention. */
  lambda: number;
  /** Contention (0..1). */
  sigma: number;
  /** Coherency cost (≥ 0). */
  kappa: number;
  /** N* = sqrt((1−σ)/κ), where throughput peaks; null when κ = 0 (no peak: it rises to λ/σ or forever). */
  peakConcurrency: number | null;
  /** The most throughput concurrency alone can give: X(N*), or λ/σ when κ = 0; null when unbounded. */
  ceilingRps: number | null;
  /** 1 − SSE/SST on throughput; null when there are no more points than free parameters (the curve
   * passes through every point and R² says nothing) or when every point has the same throughput. */
  rSquared: number | null;
  /** Points fitted and distinct concurrencies among them. */
  points: number;
  distinctConcurrencies: number;
  minConcurrency: number;
  maxConcurrency: number;
  /** Parameters held at 0 (or σ at 1): not identifiable from the points, or at their bound. */
  fixed: UslParameter[];
  /** Plain-language caveats a report shows next to the fit. */
  notes: string[];
}

/** Throughput the fitted law predicts at concurrency `n`. */
export function uslThroughput(fit: Pick<UslFit, 'lambda' | 'sigma' | 'kappa'>, n: number): number {
  return (fit.lambda * n) / (1 + fit.sigma * (n - 1) + fit.kappa * n * (n - 1));
}

/**
 * The smallest concurrency at which the fitted law reaches `rateRps`, or null when no concurrency
 * does (the rate is above the ceiling). Solves λN = r(1 + σ(N−1) + κN(N−1)) for N.
 */
export function uslConcurrencyFor(
  fit: Pick<UslFit, 'lambda' | 'sigma' | 'kappa'>,
  rateRps: number,
): number | null {
  const { lambda, sigma, kappa } = fit;
  if (rateRps <= 0) return 0;
  if (kappa === 0) {
    const denominator = lambda - rateRps * sigma;
    if (denominator <= 0) return null;
    return Math.max(1, (rateRps * (1 - sigma)) / denominator);
  }
  // r·κ·N² + (r·σ − r·κ − λ)·N + r(1 − σ) = 0; the smaller root is on the rising side of the curve.
  const a = rateRps * kappa;
  const b = rateRps * sigma - rateRps * kappa - lambda;
  const c = rateRps * (1 - sigma);
  const discriminant = b * b - 4 * a * c;
  if (discriminant < 0) return null;
  const root = (-b - Math.sqrt(discriminant)) / (2 * a);
  return root > 0 ? Math.max(1, root) : null;
}

interface Params {
  lambda: number;
  sigma: number;
  kappa: number;
}

/**
 * Fits the law to measured points. One concurrency: linear scaling is assumed (σ = κ = 0) and said.
 * Two concurrencies: κ cannot be told apart from σ, so κ is held at 0 (Amdahl's law) and said.
 * Three or more: all three parameters; a parameter whose free estimate leaves its bounds is held at
 * the bound (e.g. perfectly linear points give σ = κ = 0 and no peak).
 */
export function fitUsl(points: readonly UslPoint[]): UslFit {
  if (points.length === 0) throw new RangeError('a USL fit needs at least one point');
  for (const p of points) {
    if (!(Number.isFinite(p.concurrency) && p.concurrency >= 1))
      throw new RangeError(`concurrency must be a number ≥ 1 (got ${p.concurrency})`);
    if (!(Number.isFinite(p.throughputRps) && p.throughputRps > 0))
      throw new RangeError(
        `throughput must be a positive number (got ${p.throughputRps} at N=${p.concurrency})`,
      );
  }
  const ns = points.map((p) => p.concurrency);
  const xs = points.map((p) => p.throughputRps);
  const distinct = new Set(ns).size;
  const base = {
    points: points.length,
    distinctConcurrencies: distinct,
    minConcurrency: Math.min(...ns),
    maxConcurrency: Math.max(...ns),
  };
  const notes: string[] = [];

  if (distinct === 1) {
    const lambda = mean(xs.map((x, i) => x / ns[i]!));
    notes.push(
      `one concurrency measured (N=${ns[0]}): linear scaling assumed (σ = κ = 0); measure more to see where it stops`,
    );
    return finish({ lambda, sigma: 0, kappa: 0 }, ns, xs, ['sigma', 'kappa'], 1, notes, base);
  }

  // Candidate models: which of σ, κ are free. Nested models are tried so that a parameter whose
  // free estimate is out of bounds can be held at its bound instead (an active-set search).
  const candidates: UslParameter[][] =
    distinct >= 3 ? [['sigma', 'kappa'], ['kappa'], ['sigma'], []] : [['sigma', 'kappa'], ['kappa']];
  if (distinct === 2)
    notes.push("two concurrencies measured: κ held at 0 (Amdahl's law); a third point would show any peak");

  let best: { params: Params; fixed: UslParameter[]; sse: number } | undefined;
  for (const fixed of candidates) {
    const start = linearisedFit(ns, xs, fixed);
    if (!start) continue;
    const params = refine(start, ns, xs, fixed);
    if (!params) continue;
    const sse = relativeSse(params, ns, xs);
    // Simplest first; a richer model replaces it only when clearly better (ties go to fewer parameters).
    if (!best || sse < best.sse * (1 - 1e-6) - 1e-12) best = { params, fixed, sse };
  }
  if (!best) {
    // Every model left its bounds: the throughput falls with concurrency from the start.
    const lambda = xs[ns.indexOf(base.minConcurrency)]! / base.minConcurrency;
    notes.push('no USL curve fits within its bounds: throughput falls as concurrency rises; σ = 1 assumed');
    return finish({ lambda, sigma: 1, kappa: 0 }, ns, xs, ['sigma', 'kappa'], 1, notes, base);
  }
  const free = 3 - best.fixed.length;
  if (best.params.sigma === 0 && !best.fixed.includes('sigma')) best.fixed.push('sigma');
  if (best.params.kappa === 0 && !best.fixed.includes('kappa')) best.fixed.push('kappa');
  if (best.params.sigma === 0 && best.params.kappa === 0)
    notes.push('throughput grew in proportion to concurrency over the measured range: no contention seen');
  return finish(best.params, ns, xs, best.fixed, free, notes, base);
}

function finish(
  params: Params,
  ns: number[],
  xs: number[],
  fixed: UslParameter[],
  freeParameters: number,
  notes: string[],
  base: Pick<UslFit, 'points' | 'distinctConcurrencies' | 'minConcurrency' | 'maxConcurrency'>,
): UslFit {
  const { lambda, sigma, kappa } = params;
  const peakConcurrency = kappa > 0 ? Math.sqrt((1 - sigma) / kappa) : null;
  const ceilingRps =
    peakConcurrency !== null
      ? uslThroughput(params, Math.max(1, peakConcurrency))
      : sigma > 0
        ? lambda / sigma
        : null;
  const meanX = mean(xs);
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < ns.length; i++) {
    sse += (xs[i]! - uslThroughput(params, ns[i]!)) ** 2;
    sst += (xs[i]! - meanX) ** 2;
  }
  let rSquared: number | null = sst === 0 ? null : 1 - sse / sst;
  if (base.distinctConcurrencies <= freeParameters) {
    rSquared = null;
    if (base.distinctConcurrencies > 1)
      notes.push(
        `${base.distinctConcurrencies} concurrencies for ${freeParameters} free parameters: the curve passes through every point, so its quality cannot be judged`,
      );
  }
  return {
    lambda,
    sigma,
    kappa,
    peakConcurrency,
    ceilingRps,
    rSquared,
    ...base,
    fixed: [...fixed].sort(),
    notes,
  };
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Weighted least squares on N/X = a + b(N−1) + cN(N−1). Weights 1/(N/X)² make each residual
 * relative, so points at low concurrency (small throughput) count as much as those at high.
 */
function linearisedFit(ns: number[], xs: number[], fixed: UslParameter[]): Params | undefined {
  const columns: Array<(n: number) => number> = [() => 1];
  if (!fixed.includes('sigma')) columns.push((n) => n - 1);
  if (!fixed.includes('kappa')) columns.push((n) => n * (n - 1));
  const k = columns.length;
  const ata = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const aty = new Array<number>(k).fill(0);
  for (let i = 0; i < ns.length; i++) {
    const y = ns[i]! / xs[i]!;
    const w = 1 / (y * y);
    const row = columns.map((f) => f(ns[i]!));
    for (let r = 0; r < k; r++) {
      aty[r]! += w * row[r]! * y;
      for (let c = 0; c < k; c++) ata[r]![c]! += w * row[r]! * row[c]!;
    }
  }
  const solution = solve(ata, aty);
  if (!solution) return undefined;
  const a = solution[0]!;
  if (!(a > 0)) return undefined;
  let j = 1;
  const b = fixed.includes('sigma') ? 0 : solution[j++]!;
  const c = fixed.includes('kappa') ? 0 : solution[j++]!;
  const params = { lambda: 1 / a, sigma: b / a, kappa: c / a };
  if (params.sigma < 0 || params.sigma > 1 || params.kappa < 0) return undefined;
  return params;
}

/** Gaussian elimination with partial pivoting; undefined when the system is singular. */
function solve(matrix: number[][], rhs: number[]): number[] | undefined {
  const n = rhs.length;
  const m = matrix.map((row, i) => [...row, rhs[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    const scale = Math.max(...m.map((row) => Math.abs(row[col]!)));
    if (Math.abs(m[pivot]![col]!) <= 1e-14 * (scale || 1)) return undefined;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

function relativeSse(p: Params, ns: number[], xs: number[]): number {
  let s = 0;
  for (let i = 0; i < ns.length; i++) s += ((uslThroughput(p, ns[i]!) - xs[i]!) / xs[i]!) ** 2;
  return s;
}

/**
 * Levenberg–Marquardt on relative residuals (X̂ − X)/X with Marquardt's diagonal scaling (κ is
 * often 10⁻⁶ while λ is 10²: without scaling one step size cannot suit both), each step projected
 * back inside the bounds. Returns undefined if the refined parameters sit outside them.
 */
function refine(start: Params, ns: number[], xs: number[], fixed: UslParameter[]): Params | undefined {
  const names: Array<keyof Params> = ['lambda'];
  if (!fixed.includes('sigma')) names.push('sigma');
  if (!fixed.includes('kappa')) names.push('kappa');
  let p = { ...start };
  let cost = relativeSse(p, ns, xs);
  let damping = 1e-3;
  for (let iteration = 0; iteration < 200; iteration++) {
    const k = names.length;
    const jtj = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    const jtr = new Array<number>(k).fill(0);
    for (let i = 0; i < ns.length; i++) {
      const n = ns[i]!;
      const d = 1 + p.sigma * (n - 1) + p.kappa * n * (n - 1);
      const f = (p.lambda * n) / d;
      const r = (f - xs[i]!) / xs[i]!;
      const grad: Record<keyof Params, number> = {
        lambda: n / d / xs[i]!,
        sigma: (-p.lambda * n * (n - 1)) / (d * d) / xs[i]!,
        kappa: (-p.lambda * n * n * (n - 1)) / (d * d) / xs[i]!,
      };
      const row = names.map((name) => grad[name]);
      for (let a = 0; a < k; a++) {
        jtr[a]! += row[a]! * r;
        for (let b = 0; b < k; b++) jtj[a]![b]! += row[a]! * row[b]!;
      }
    }
    let improved = false;
    while (damping < 1e12) {
      const lhs = jtj.map((row, a) => row.map((v, b) => (a === b ? v * (1 + damping) + 1e-300 : v)));
      const step = solve(
        lhs,
        jtr.map((v) => -v),
      );
      if (!step) {
        damping *= 10;
        continue;
      }
      const next = { ...p };
      names.forEach((name, a) => {
        next[name] += step[a]!;
      });
      next.lambda = Math.max(next.lambda, 1e-12);
      next.sigma = Math.min(1, Math.max(0, next.sigma));
      next.kappa = Math.max(0, next.kappa);
      const nextCost = relativeSse(next, ns, xs);
      if (nextCost < cost) {
        const gain = cost - nextCost;
        p = next;
        cost = nextCost;
        damping = Math.max(damping / 10, 1e-12);
        improved = gain > 1e-15 * Math.max(cost, 1e-30);
        break;
      }
      damping *= 10;
    }
    if (!improved) break;
  }
  if (!(p.lambda > 0) || p.sigma < 0 || p.sigma > 1 || p.kappa < 0) return undefined;
  return p;
}
