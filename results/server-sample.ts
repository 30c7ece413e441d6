/** One reading of the target's /metrics, reduced to the figures a report needs. */
export interface ServerSample {
  /** Seconds since the sampler started. */
  tSec: number;
  /** Process CPU over the last interval, in percent of one core (100 = one core busy). */
  cpuPercent: number | null;
  heapUsedBytes: number | null;
  rssBytes: number | null;
  /** Event-loop utilisation since the previous scrape, 0..1. */
  eventLoopUtilization: number | null;
  /** Jobs waiting and running over every queue. */
  queueWaiting: number | null;
  queueActive: number | null;
  /** Database pool: connections in use and callers waiting for one. */
  poolInUse: number | null;
  poolWaiting: number | null;
}
