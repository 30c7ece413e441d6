import { readFile } from 'node:fs/promises';
import si from 'systeminformation';
import { HostProfileInvalidError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import schema from './host-profile.schema.json' with { type: 'json' };
import i58500 from './host-profiles/i5-8500.json' with { type: 'json' };

export const HOST_PROFILE_KIND = 'headroom.host-profile';
export const HOST_PROFILE_VERSION = 1;

/** A machine a capacity report is projected onto: how many cores and how much memory it has. */
export interface HostProfile {
  kind: typeof HOST_PROFILE_KIND;
  version: typeof HOST_PROFILE_VERSION;
  /** Short name shown in reports. */
  name: string;
  cpuModel?: string;
  /** Logical cores the pipeline may use. */
  cores: number;
  memoryBytes: number;
  /** Memory already held by other services on the host (database, web server, OS). */
  reservedMemoryBytes?: number;
  /** Where the figures come from. */
  source?: string;
  /** The simulators run on this host too (a bench's real run): their CPU counts; default false. */
  colocatedSimulators?: boolean;
}

const validate = compileSchema<HostProfile>(schema);

/** Profiles shipped with headroom, by name (`--host-profile i5-8500`); imported, so a build carries them. */
const BUNDLED: Record<string, unknown> = { 'i5-8500': i58500 };
export const BUNDLED_HOST_PROFILES = Object.keys(BUNDLED);

/** Validates parsed JSON as a host profile; a HostProfileInvalidError names each bad field. */
export function parseHostProfile(data: unknown, source: string): HostProfile {
  if (!validate(data)) throw new HostProfileInvalidError(source, explainSchemaErrors(validate.errors!));
  if ((data.reservedMemoryBytes ?? 0) >= data.memoryBytes)
    throw new HostProfileInvalidError(source, [
      `/reservedMemoryBytes: must be less than memoryBytes (${data.memoryBytes}); nothing would be left for the pipeline`,
    ]);
  return data;
}

/** Reads a host profile from a file path, or a bundled profile by name (e.g. `i5-8500`). */
export async function loadHostProfile(fileOrName: string): Promise<HostProfile> {
  const bundled = BUNDLED[fileOrName];
  if (bundled !== undefined) return parseHostProfile(structuredClone(bundled), fileOrName);
  let text: string;
  try {
    text = await readFile(fileOrName, 'utf8');
  } catch (err) {
    throw new HostProfileInvalidError(
      fileOrName,
      [
        `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a file path or one of ${BUNDLED_HOST_PROFILES.join(', ')}`,
      ],
      { cause: err },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new HostProfileInvalidError(fileOrName, [`it is not JSON (${(err as Error).message})`], {
      cause: err,
    });
  }
  return parseHostProfile(data, fileOrName);
}

/** Describes this machine as a host profile (systeminformation: CPU model, logical cores, memory). */
export async function currentHostProfile(): Promise<HostProfile> {
  const [cpu, mem] = await Promise.all([si.cpu(), si.mem()]);
  const cpuModel = `${cpu.manufacturer} ${cpu.brand}`.trim();
  return {
    kind: HOST_PROFILE_KIND,
    version: HOST_PROFILE_VERSION,
    name: 'this host',
    cpuModel: cpuModel || 'unknown',
    cores: Math.max(1, cpu.cores),
    memoryBytes: mem.total,
    source: 'systeminformation on this machine',
  };
}
