import type { ErrorObject } from 'ajv';

/** Combinators whose own message ("must match a schema in anyOf") adds nothing to their branches' errors. */
const COMBINATORS = new Set(['oneOf', 'anyOf', 'if']);

/**
 * One line per schema problem, for every versioned file and option object headroom validates: the
 * field (a JSON pointer), the rule, and what was there. Combinator noise is dropped and repeats
 * (one problem seen through several branches) are said once.
 */
export function explainSchemaErrors(errors: readonly ErrorObject[]): string[] {
  const lines = new Set<string>();
  for (const e of errors) if (!COMBINATORS.has(e.keyword)) lines.add(explainSchemaError(e));
  return [...lines];
}

function explainSchemaError(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  const got = `(got ${JSON.stringify(e.data)})`;
  switch (e.keyword) {
    case 'enum':
      return `${at}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')} ${got}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(e.params.allowedValue)} ${got}`;
    case 'additionalProperties':
      return `${at}: unknown field "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${at}: missing field "${String(e.params.missingProperty)}"`;
    default:
      return `${at}: ${e.message} ${got}`;
  }
}
