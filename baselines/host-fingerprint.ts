import { createHash } from 'node:crypto';
import si from 'systeminformation';
import type { HostDescription } from '../results/host-description.js';

/**
 * What makes two hosts' timings comparable: CPU model, cores, memory, operating system and Node
 * major version. Figures measured on different fingerprints are not compared unless forced.
 */
export interface HostFingerprint {
  /** A short stable hash of the fields below, e.g. `host-3f9a1c0b2d4e`; names baseline files. */
  id: string;
  cpuModel: string;
  cores: number;
  /** Total memory rounded to whole GiB: the exact figure moves with kernel reservations. */
  memoryGiB: number;
  /** Platform, distribution, release and architecture (not the kernel build, which patches change). */
  os: string;
  nodeMajor: number;
}

/** The fingerprint of this machine (systeminformation; about half a second, so call it once). */
export async function hostFingerprint(): Promise<HostFingerprint> {
  const [cpu, mem, osInfo] = await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
  return fingerprintOf({
    cpuModel: [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ').trim() || 'unknown',
    cores: cpu.cores,
    memoryGiB: Math.round(mem.total / 1024 ** 3),
    os: [osInfo.platform, osInfo.distro, osInfo.release, osInfo.arch].filter(Boolean).join(' '),
    nodeMajor: Number(process.versions.node.split('.')[0]),
  });
}

/** Adds the id to a fingerprint's fields; the same fields give the same id on any machine. */
export function fingerprintOf(fields: Omit<HostFingerprint, 'id'>): HostFingerprint {
  const canonical = JSON.stringify([
    fields.cpuModel,
    fields.cores,
    fields.memoryGiB,
    fields.os,
    fields.nodeMajor,
  ]);
  const id = `host-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
  return { id, ...fields };
}

/** A fingerprint in a few words, for messages: `Intel Xeon, 2 cores, 24 GiB, linux Debian…, Node 20 (host-…)`. */
export function describeFingerprint(host: HostFingerprint): string {
  return `${host.cpuModel}, ${host.cores} cores, ${host.memoryGiB} GiB, ${host.os}, Node ${host.nodeMajor} (${host.id})`;
}

/**
 * The fingerprint of the host a run result records (node:os figures: no distribution or
 * release), comparable with another through `sameHost`.
 */
export function fingerprintFromDescription(host: HostDescription): HostFingerprint {
  return fingerprintOf({
    cpuModel: host.cpuModel,
    cores: host.cores,
    memoryGiB: Math.round(host.memoryBytes / 1024 ** 3),
    os: host.os,
    nodeMajor: Number(host.node.replace(/^v/, '').split('.')[0]),
  });
}

/**
 * Whether two fingerprints are of the same host. Two fingerprints from systeminformation compare by
 * id; with `coarse` (one side from a run result, described by node:os), by the fields both
 * sources give: the CPU model without trademark signs, cores, memory, platform and architecture,
 * and Node major.
 */
export function sameHost(a: HostFingerprint, b: HostFingerprint, coarse = false): boolean {
  if (!coarse) return a.id === b.id;
  return coarseKey(a) === coarseKey(b);
}

function coarseKey(h: HostFingerprint): string {
  const cpu = h.cpuModel
    .toLowerCase()
    .replace(/\(r\)|\(tm\)|®|™|\bcpu\b|@.*$/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const words = h.os.toLowerCase().split(/\s+/);
  return JSON.stringify([cpu, h.cores, h.memoryGiB, words[0], words[words.length - 1], h.nodeMajor]);
}
