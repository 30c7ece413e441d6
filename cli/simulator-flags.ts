import { readFile } from 'node:fs/promises';
import type { ParseArgsConfig } from 'node:util';
import { ConfigInvalidError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import { explainSchemaErrors } from '../schema-error.js';
import { defined, numberFlag } from './flag-value.js';
import schema from './simulator-config.schema.json' with { type: 'json' };

/** Flags that shape the simulators, shared by `demo` and `sim`. */
export const simulatorFlags = {
  seed: { type: 'string' },
  sites: { type: 'string' },
  'site-latency-ms': { type: 'string' },
  'site-latency-sigma': { type: 'string' },
  'page-bytes': { type: 'string' },
  'fault-rate': { type: 'string' },
  'fault-404': { type: 'string' },
  'fault-500': { type: 'string' },
  'fault-reset': { type: 'string' },
  'fault-timeout': { type: 'string' },
  'fault-slow-body': { type: 'string' },
  'llm-ttft-ms': { type: 'string' },
  'llm-tokens-per-second': { type: 'string' },
  'llm-tokens-per-message': { type: 'string' },
  'llm-error-rate': { type: 'string' },
  'llm-429-rate': { type: 'string' },
  'llm-rpm': { type: 'string' },
  'llm-tpm': { type: 'string' },
  'sim-config': { type: 'string' },
} satisfies NonNullable<ParseArgsConfig['options']>;

type Values = Partial<Record<keyof typeof simulatorFlags, string>>;
type SettingFlag = Exclude<keyof typeof simulatorFlags, 'sim-config'>;

/** A `--sim-config` file: each field is the flag of the same name in camelCase. */
export type SimulatorConfigFile = Partial<Record<string, number>>;

const validateConfig = compileSchema<SimulatorConfigFile>(schema);

/** `siteLatencyMs` → `site-latency-ms`, `fault404` → `fault-404`, `llm429Rate` → `llm-429-rate`. */
function flagOf(field: string): SettingFlag {
  return field.replace(/([A-Z]|(?<![0-9])[0-9]+)/g, (m) => `-${m.toLowerCase()}`) as SettingFlag;
}

/**
 * Reads and validates a `--sim-config` file (errors name the file and each field), as flag values:
 * the flags of the command line are laid over them.
 */
export async function readSimulatorConfig(file: string): Promise<Values> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigInvalidError(file, [`(top level): cannot read it as JSON (${(err as Error).message})`]);
  }
  if (!validateConfig(data)) throw new ConfigInvalidError(file, explainSchemaErrors(validateConfig.errors!));
  const values: Values = {};
  for (const [field, value] of Object.entries(data)) {
    if (field !== '$schema') values[flagOf(field)] = String(value);
  }
  return values;
}

/** Simulator options from `--sim-config` (when given) with the command line's flags over it. */
export async function loadSimulatorOptions(values: Values): Promise<SimulatorsOptions> {
  const file = values['sim-config'];
  if (file === undefined) return simulatorOptionsFromFlags(values);
  const fromFile = await readSimulatorConfig(file);
  return simulatorOptionsFromFlags({ ...fromFile, ...defined(values) });
}

const rate = (name: string, v: string | undefined) => numberFlag(name, v, { min: 0, max: 1 });
const positive = (name: string, v: string | undefined) => numberFlag(name, v, { min: 0 });
const count = (name: string, v: string | undefined) => numberFlag(name, v, { min: 1, integer: true });

/** Turns parsed flags into simulator options; `--fault-rate X` spreads X evenly over the five fault kinds. */
export function simulatorOptionsFromFlags(values: Values): SimulatorsOptions {
  const seed = numberFlag('seed', values.seed, { integer: true });
  const spread = rate('fault-rate', values['fault-rate']);
  const each = spread === undefined ? undefined : spread / 5;
  const medianMs = positive('site-latency-ms', values['site-latency-ms']);
  const sigma = positive('site-latency-sigma', values['site-latency-sigma']);
  const pageBytes = count('page-bytes', values['page-bytes']);
  const faults = defined({
    notFound: rate('fault-404', values['fault-404']) ?? each,
    serverError: rate('fault-500', values['fault-500']) ?? each,
    reset: rate('fault-reset', values['fault-reset']) ?? each,
    timeout: rate('fault-timeout', values['fault-timeout']) ?? each,
    slowBody: rate('fault-slow-body', values['fault-slow-body']) ?? each,
  });
  const rpm = count('llm-rpm', values['llm-rpm']);
  const tpm = count('llm-tpm', values['llm-tpm']);
  return {
    siteFarm: defined({
      seed,
      sites: count('sites', values.sites),
      latency:
        medianMs === undefined && sigma === undefined
          ? undefined
          : { medianMs: medianMs ?? 300, sigma: sigma ?? 0.5 },
      pageBytes: pageBytes === undefined ? undefined : { medianBytes: pageBytes, sigma: 0.3 },
      faults: Object.keys(faults).length ? faults : undefined,
    }),
    llm: defined({
      seed,
      timeToFirstTokenMs: positive('llm-ttft-ms', values['llm-ttft-ms']),
      tokensPerSecond: positive('llm-tokens-per-second', values['llm-tokens-per-second']),
      tokensPerMessage: count('llm-tokens-per-message', values['llm-tokens-per-message']),
      errorRate: rate('llm-error-rate', values['llm-error-rate']),
      rateLimitRate: rate('llm-429-rate', values['llm-429-rate']),
      rateLimit:
        rpm === undefined && tpm === undefined
          ? undefined
          : defined({ requestsPerMinute: rpm, tokensPerMinute: tpm }),
    }),
  };
}
