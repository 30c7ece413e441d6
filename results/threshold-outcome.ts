/** One threshold checked against a run's figures, as results and reports record it. */
export interface ThresholdOutcome {
  metric: string;
  threshold: string;
  /** The measured figure, or null when the metric has no such aggregation (which fails). */
  actual: number | null;
  passed: boolean;
}
