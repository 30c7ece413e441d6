import type { ErrorObject } from 'ajv';

/** Combinators whose own message ("must match a schema in anyOf") adds nothing to their branches' errors. */
const COMBINATORS = new Set(['oneOf', 'anyOf', 'if']);

/**
 * One line per schema problem, for every versioned file and option object headroom validates: the
 * field (a JSON pointer), the rule, and what was there. Combinator noise is dropped, repeats (one
 * problem seen through several branches) are said once, and the type complaints of a union's
 * branches at one field are said as one ("must be number or null").
 */
export function explainSchemaErrors(errors: readonly ErrorObject[]): string[] {
  const typesAt = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword !== 'type') continue;
    const types = typesAt.get(e.instancePath) ?? [];
    for (const t of [e.params.type as string | string[]].flat()) if (!types.includes(t)) types.push(t);
    typesAt.set(e.instancePath, types);
  }
  // A nullable field (anyOf [X, null]) with a wrong X: its "must be null" adds nothing to X's complaint.
  const otherAt = new Set(
    errors.filter((e) => e.keyword !== 'type' && !COMBINATORS.has(e.keyword)).map((e) => e.instancePath),
  );
  const lines = new Set<string>();
  for (const e of errors) {
    if (COMBINATORS.has(e.keyword)) continue;
    if (e.keyword === 'type') {
      const types = typesAt.get(e.instancePath)!.filter((t) => t !== 'null' || !otherAt.has(e.instancePath));
      if (types.length === 0) continue;
      lines.add(
        `${e.instancePath || '(top level)'}: must be ${types.join(' or ')} (got ${JSON.stringify(e.data)})`,
      );
      continue;
    }
    lines.add(explainSchemaError(e));
  }
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
    case 'false schema':
      return `${at}: not allowed here`;
    case 'discriminator':
      return explainDiscriminator(e);
    default:
      return `${at}: ${e.message} ${got}`;
  }
}

/** The field that picks a union's branch is missing or names no branch: say which values do. */
function explainDiscriminator(e: ErrorObject): string {
  const tag = String(e.params.tag);
  const allowed = branchValues(e.parentSchema, tag);
  const choices = allowed.length > 0 ? `one of ${allowed.join(', ')}` : 'a branch of the union';
  const value = (e.data as Record<string, unknown> | null)?.[tag];
  if (value === undefined) return `${e.instancePath || '(top level)'}: missing field "${tag}" (${choices})`;
  return `${e.instancePath}/${tag}: must be ${choices} (got ${JSON.stringify(value)})`;
}

/** The values of `tag` that a discriminated oneOf's branches accept (`const` or `enum`). */
function branchValues(parent: unknown, tag: string): string[] {
  const branches = (parent as { oneOf?: unknown[] } | undefined)?.oneOf ?? [];
  return branches.flatMap((branch) => {
    const prop = (branch as { properties?: Record<string, { const?: unknown; enum?: unknown[] }> })
      .properties?.[tag];
    if (prop?.const !== undefined) return [String(prop.const)];
    return (prop?.enum ?? []).map(String);
  });
}
