import { readFile } from 'node:fs/promises';
import type { ValidateFunction } from 'ajv';
import { writeFileAtomic } from './atomic-file.js';
import { compileSchema } from './json-schema.js';
import { explainSchemaErrors } from './schema-error.js';

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
    this.validate = compileSchema<T>(spec.schema, { allowUnionTypes: true });
  }

  /**
   * Parses a file's text and checks its head before its content: JSON, this kind, a version this
   * headroom reads. Older versions would be migrated here, never guessed at; newer ones are refused.
   */
  parse(text: string, file: string): T {
    const { kind, version, noun } = this.spec;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw this.spec.invalid(file, [`it is not JSON (${(err as Error).message})`], { cause: err });
    }
    const head = (data ?? {}) as { kind?: unknown; version?: unknown };
    if (typeof data !== 'object' || data === null || Array.isArray(data) || head.kind !== kind)
      throw this.spec.invalid(file, [
        `it is not a headroom ${noun} (kind is ${JSON.stringify(head.kind)}, expected "${kind}")`,
      ]);
    if (typeof head.version !== 'number' || !Number.isInteger(head.version) || head.version < 1)
      throw this.spec.invalid(file, [`its version ${JSON.stringify(head.version)} is not a version number`]);
    if (head.version > version)
      throw this.spec.invalid(file, [
        `it is version ${head.version}, newer than this headroom reads (${version}); upgrade headroom`,
      ]);
    return this.check(data, file);
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
