import { SampleInvalidError } from '../errors.js';
import { VersionedFile } from '../versioned-json.js';
import { PIPELINE_SAMPLE_KIND, PIPELINE_SAMPLE_VERSION, type PipelineSample } from './pipeline-sample.js';
import schema from './pipeline-sample.schema.v2.json' with { type: 'json' };

const pipelineSampleFile = new VersionedFile<PipelineSample>({
  kind: PIPELINE_SAMPLE_KIND,
  version: PIPELINE_SAMPLE_VERSION,
  noun: 'pipeline sample',
  schema,
  invalid: (file, problems, options) => new SampleInvalidError(file, problems, options),
});

/**
 * Reads a pipeline sample from its text. A file of another kind, a newer version or invalid content
 * throws a SampleInvalidError naming `file` and each bad field.
 */
export const readPipelineSample = (text: string, file: string): PipelineSample =>
  pipelineSampleFile.parse(text, file);
/** Reads and validates a pipeline sample file; a missing file is named like a bad one. */
export const readPipelineSampleFile = (file: string): Promise<PipelineSample> =>
  pipelineSampleFile.read(file);
/** Validates a sample (e.g. before writing it); throws a SampleInvalidError naming `file`. */
export const checkPipelineSample = (data: unknown, file: string): PipelineSample =>
  pipelineSampleFile.check(data, file);
/** Writes a sample atomically (temporary file in the same folder, then rename), after validating it. */
export const writePipelineSample = (file: string, sample: PipelineSample): Promise<void> =>
  pipelineSampleFile.write(file, sample);
