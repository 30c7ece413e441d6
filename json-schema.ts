import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';

/**
 * The one place headroom makes a JSON Schema validator, so every file kind it reads is checked the
 * same way: all errors at once (a file is fixed in one pass), strict schemas (a typo in a schema is
 * a bug, not a silent no-op), the data kept with each error (the explainer says what was found), and
 * ajv's `discriminator` keyword, so a union whose branch a field names (`model`, `type`, …) reports
 * only that branch's complaints.
 */
export function compileSchema<T>(
  schema: AnySchema,
  opts: { useDefaults?: boolean; allowUnionTypes?: boolean } = {},
): ValidateFunction<T> {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    verbose: true,
    discriminator: true,
    useDefaults: opts.useDefaults ?? false,
    allowUnionTypes: opts.allowUnionTypes ?? false,
  });
  return ajv.compile<T>(schema);
}
