import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { writeFileAtomic } from './atomic-file.js';
import { explainSchemaErrors } from './schema-error.js';

/** The outcome of reading a versioned headroom file: its data, or what is wrong with it. */
export type VersionedJson = { ok: true; data: object } | { ok: false; problem: string; cause?: unknown };

/**
 * Parses the text of a versioned headroom file (`kind` + `version`) and checks its head: JSON, the
 * expected kind, a version this headroom reads. The caller validates the content against its
 * schema and wraps a problem in its own error, which names the file.
 */
export function parseVersionedJson(
  text: string,
  expected: { kind: string; version: number; noun: string },
): VersionedJson {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `it is not JSON (${(err as Error).message})`, cause: err };
  }
  const head = (data ?? {}) as { kind?: unknown; version?: unknown };
  if (typeof data !== 'object' || data === null || Array.isArray(data) || head.kind !== expected.kind)
    return {
      ok: false,
      problem: `it is not a headroom ${expected.noun} (kind is ${JSON.stringify(head.kind)}, expected "${expected.kind}")`,
    };
  if (typeof head.version !== 'number' || !Number.isInteger(head.version) || head.version < 1)
    return { ok: false, problem: `its version ${JSON.stringify(head.version)} is not a version number` };
  // Older versions would be migrated by the caller, never guessed at; newer ones are refused.
  if (head.version > expected.version)
    return {
      ok: false,
      problem: `it is version ${head.version}, newer than this headroom reads (${expected.version}); upgrade headroom`,
    };
  return { ok: true, data };
}

/** How one kind of versioned headroom file is named, validated and reported when bad. */
export interface VersionedFileKind<T> {
  kind: string;
  version: number;
  /** What a reader calls it in errors: "run result", "pipeline sample", … */
  noun: string;
  /** The JSON Schema of the current version. */
  schema: object;
  /** The error of this kind of file (one class with a stable code), naming the file and each problem. */
  invalid: (file: string, problems: string[], options?: ErrorOptions) => Error;
  /** Checks the schema cannot state (e.g. that encoded histograms decode), as problems. */
  moreProblems?: (data: T) => string[];
}

/**
 * Reads, validates and writes one kind of versioned file: the head (kind, version) first, then the
 * schema, then what the schema cannot state; every problem is thrown as the kind's own error,
 * naming the file. Writes are validated too, and atomic.
 */
export class VersionedFile<T> {
  private readonly validate: ValidateFunction<T>;

  constructor(private readonly spec: VersionedFileKind<T>) {
    const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true });
    this.validate = ajv.compile<T>(spec.schema);
  }

  /** Parses a file's text. Older versions would be migrated here, never guessed at. */
  parse(text: string, file: string): T {
    const parsed = parseVersionedJson(text, this.spec);
    if (!parsed.ok) throw this.spec.invalid(file, [parsed.problem], { cause: parsed.cause });
    return this.check(parsed.data, file);
  }

  /** Reads a file; one that cannot be read is reported like a bad one, naming why. */
  async read(file: string): Promise<T> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw this.spec.invalid(file, [`it cannot be read (${why})`], { cause: err });
    }
    return this.parse(text, file);
  }

  /** Validates data (read, or about to be written). */
  check(data: unknown, file: string): T {
    if (!this.validate(data)) throw this.spec.invalid(file, explainSchemaErrors(this.validate.errors!));
    const problems = this.spec.moreProblems?.(data) ?? [];
    if (problems.length > 0) throw this.spec.invalid(file, problems);
    return data;
  }

  /** Validates, then writes atomically (temporary file in the same folder, then rename). */
  async write(file: string, data: T): Promise<void> {
    this.check(data, file);
    await writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`);
  }
}
