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
