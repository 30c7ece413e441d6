/** One reading of a process tree from /proc: every process `start` launched, whatever its language. */
export interface ProcessTreeSample {
  /** Seconds since the sampler started. */
  tSec: number;
  /** User + system CPU seconds of the live processes of the tree (since each started). */
  cpuSeconds: number;
  /** Resident memory of the tree's processes, summed. */
  rssBytes: number;
  processes: number;
}
