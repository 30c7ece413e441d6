import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { writeFileAtomic } from '../atomic-file.js';
import { SampleInvalidError } from '../errors.js';
import { parseVersionedJson } from '../versioned-json.js';
import { PIPELINE_SAMPLE_KIND, PIPELINE_SAMPLE_VERSION, type PipelineSample } from './pipeline-sample.js';
import schema from './pipeline-sample.schema.v1.json' with { type: 'json' };

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const validate = ajv.compile<PipelineSample>(schema);

/**
 * Reads a pipeline sample from its text. A file of another kind, a newer version or invalid content
 * throws a SampleInvalidError naming `file` and each bad field.
 */
export function readPipelineSample(text: string, file: string): PipelineSample {
  const parsed = parseVersionedJson(text, {
    kind: PIPELINE_SAMPLE_KIND,
    version: PIPELINE_SAMPLE_VERSION,
    noun: 'pipeline sample',
  });
  if (!parsed.ok) throw new SampleInvalidError(file, [parsed.problem], { cause: parsed.cause });
  return checkPipelineSample(parsed.data, file);
}

/** Reads and validates a pipeline sample file; a missing file is named like a bad one. */
export async function readPipelineSampleFile(file: string): Promise<PipelineSample> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SampleInvalidError(file, [`it cannot be read (${(err as Error).message})`], { cause: err });
  }
  return readPipelineSample(text, file);
}

/** Validates a sample (e.g. before writing it); throws a SampleInvalidError naming `file`. */
export function checkPipelineSample(data: unknown, file: string): PipelineSample {
  if (!validate(data)) throw new SampleInvalidError(file, validate.errors!.map(explain));
  return data;
}

/** Writes a sample atomically (temporary file in the same folder, then rename), after validating it. */
export async function writePipelineSample(file: string, sample: PipelineSample): Promise<void> {
  checkPipelineSample(sample, file);
  await writeFileAtomic(file, `${JSON.stringify(sample, null, 2)}\n`);
}

function explain(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  if (e.keyword === 'enum')
    return `${at}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'additionalProperties')
    return `${at}: unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'required') return `${at}: missing field "${String(e.params.missingProperty)}"`;
  return `${at}: ${e.message} (got ${JSON.stringify(e.data)})`;
}
