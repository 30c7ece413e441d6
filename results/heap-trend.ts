/** One reading of the target's heap after a full GC. */
export interface HeapSample {
  tSec: number;
  heapUsedBytes: number;
  rssBytes: number;
}

/** The fitted heap trend after warm-up, in MB per hour, and the leak verdict. */
export interface HeapTrend {
  samples: HeapSample[];
  warmupS: number;
  /** Samples used in the fit (those after warm-up). */
  fitted: number;
  slopeMbPerHour: number;
  slopeLowMbPerHour: number;
  slopeHighMbPerHour: number;
  rSquared: number;
  interceptMb: number;
  maxSlopeMbPerHour: number;
  /** True when the whole 95 % interval of the slope is above the allowed slope. */
  leak: boolean;
}
