import type { ErrorObject } from 'ajv';

/** One line per schema problem: the field, the rule, what was there. */
export function explainSchemaError(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  if (e.keyword === 'enum')
    return `${at}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'const')
    return `${at}: must be ${JSON.stringify(e.params.allowedValue)} (got ${JSON.stringify(e.data)})`;
  if (e.keyword === 'additionalProperties')
    return `${at}: unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'required') return `${at}: missing field "${String(e.params.missingProperty)}"`;
  return `${at}: ${e.message} (got ${JSON.stringify(e.data)})`;
}
