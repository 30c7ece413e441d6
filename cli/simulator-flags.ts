import type { ParseArgsConfig } from 'node:util';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import { defined, numberFlag } from './flag-value.js';

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
} satisfies NonNullable<ParseArgsConfig['options']>;

type Values = Partial<Record<keyof typeof simulatorFlags, string>>;

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
