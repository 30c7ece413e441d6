import type { TrialSide } from '../scenarios/trial-runner.js';

/** A system under test, started: where to send load, what to sample, how to stop it. */
export interface RunningSystem {
  /** The URL scenario paths are relative to. */
  baseUrl: string;
  /** Root of the process tree that serves it; its CPU and RSS are read from /proc when `sampleProcessTree`. */
  pid: number;
  sampleProcessTree: boolean;
  /** Its Prometheus endpoint, or null when it has none. */
  metricsUrl: string | null;
  /** Whether scenarios register and log in users through the reference pipeline's auth API first. */
  setupUsers: boolean;
  /** Stops it (the whole process tree); safe to call twice. */
  stop(): Promise<void>;
}

/**
 * What the gate measures on each side: the reference pipeline of a build, or a team's configured
 * service in a checkout. One interface, so the gate's rounds, samplers and reports are the same.
 */
export interface SystemUnderTest {
  /** Short description for reports (e.g. `node server.js in /tmp/headroom-base-x`). */
  describe: string;
  /** Runs the build step (if any) in the system's checkout; once, before any start. */
  build(onProgress?: (line: string) => void): Promise<void>;
  /** Starts one instance; `label` names it in errors (base, head). */
  start(label: string): Promise<RunningSystem>;
}

/** The trial runner's view of a running system. */
export function trialSide(label: string, running: RunningSystem): TrialSide {
  return {
    label,
    apiUrl: running.baseUrl,
    metricsUrl: running.metricsUrl,
    setupUsers: running.setupUsers,
    ...(running.sampleProcessTree ? { pid: running.pid } : {}),
  };
}
