import type { CapacityReport } from '../analyzer/capacity-report.js';
import type { StageName } from '../analyzer/pipeline-sample.js';
import { uslThroughput } from '../analyzer/usl-fit.js';
import type { SamplerProgress } from '../scenarios/pipeline-sampler.js';
import type { DashboardEvent } from './dashboard-server.js';

/**
 * A window of the capacity sampler: the stage and the level (rows it may hold in flight) being
 * measured, and, once the window is over, its point.
 */
export interface LevelEvent {
  type: 'level';
  stage: StageName | 'combined';
  concurrency: number;
  /** 1-based window under way, of `windows`. */
  window: number;
  windows: number;
  elapsedMs: number;
  budgetMs: number;
  point?: { concurrency: number; meanInFlight: number; throughputRps: number; items: number };
  /** The combined window's rows completed per second (every stage at once). */
  combinedRps?: number;
}

/** Each measured stage's fitted USL curve, and the forecast they give. */
export interface FitEvent {
  type: 'fit';
  stages: Array<{
    stage: StageName;
    /** Configured rows in flight per process. */
    concurrency: number;
    capacityRps: number;
    /** `points`: the measured points it was fitted on (fewer than two: parameters were fixed, see the report). */
    fit: { lambda: number; sigma: number; kappa: number; rSquared: number | null; points: number } | null;
    /** Throughput of the fitted curve from one row in flight to past the highest level measured. */
    curve: Array<{ concurrency: number; throughputRps: number }>;
  }>;
  forecast: { rows: number; totalS: number; rateRps: number; bottleneck: string };
}

/** Points on each curve: enough for a smooth line on a logarithmic axis. */
const CURVE_POINTS = 40;

/** The event of one sampler progress call. */
export function levelEvent(p: SamplerProgress): DashboardEvent {
  const event: LevelEvent = {
    type: 'level',
    stage: p.stage,
    concurrency: p.concurrency,
    window: p.window,
    windows: p.windows,
    elapsedMs: p.elapsedMs,
    budgetMs: p.budgetMs,
  };
  if (p.point)
    event.point = {
      concurrency: p.point.concurrency,
      meanInFlight: p.point.meanInFlight,
      throughputRps: p.point.throughputRps,
      items: p.point.items,
    };
  if (p.combined) event.combinedRps = p.combined.throughputRps;
  return event;
}

/** The fitted curves of a measured report, sampled geometrically over the levels they cover. */
export function fitEvent(report: CapacityReport): DashboardEvent {
  const f = report.forecast;
  return {
    type: 'fit',
    stages: report.stages.map((s) => {
      const fit = s.fit;
      let curve: FitEvent['stages'][number]['curve'] = [];
      if (fit) {
        // Past the highest level and the configured one, so the page shows where the curve bends.
        const high = Math.max(fit.maxConcurrency, s.concurrency) * 1.5;
        curve = Array.from({ length: CURVE_POINTS }, (_, i) => {
          const n = high ** (i / (CURVE_POINTS - 1));
          return { concurrency: n, throughputRps: uslThroughput(fit, n) };
        });
      }
      return {
        stage: s.stage,
        concurrency: s.concurrency,
        capacityRps: s.capacityRps.value,
        fit: fit
          ? {
              lambda: fit.lambda,
              sigma: fit.sigma,
              kappa: fit.kappa,
              rSquared: fit.rSquared,
              points: fit.points,
            }
          : null,
        curve,
      };
    }),
    forecast: {
      rows: f.rows,
      totalS: f.totalS,
      rateRps: f.rateRps,
      bottleneck: `${f.bottleneck.kind}${f.bottleneck.stage ? ` ${f.bottleneck.stage}` : ''} (${f.bottleneck.regime})`,
    },
  };
}
