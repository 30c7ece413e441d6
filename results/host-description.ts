import os from 'node:os';

/** The machine a run was measured on, as recorded in result files. */
export interface HostDescription {
  cpuModel: string;
  /** Logical cores available to this process. */
  cores: number;
  memoryBytes: number;
  /** Operating system, release and architecture. */
  os: string;
  /** Node.js version. */
  node: string;
}

/**
 * The host of an imported run whose machine is unknown. Baselines match hosts by fingerprint,
 * so such a run compares only with other runs of unknown hosts, never silently with this one's.
 */
export const UNKNOWN_HOST: HostDescription = {
  cpuModel: 'unknown (imported)',
  cores: 1,
  memoryBytes: 0,
  os: 'unknown',
  node: 'unknown',
};

/** Describes this machine from node:os. */
export function describeHost(): HostDescription {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cores: Math.max(1, os.availableParallelism?.() ?? cpus.length),
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}
