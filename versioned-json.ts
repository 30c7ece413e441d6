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
