/** One HTTP request of an iteration's flow. `${name}` in path, headers and body reads a capture. */
export interface FlowStep {
  /** Name in results; unique within the flow. */
  name: string;
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  /** Path and query, appended to the target's path. */
  path: string;
  headers?: Record<string, string>;
  /** A JSON body; sent with `content-type: application/json`. */
  json?: unknown;
  /** Values to take from the JSON response for later steps: `{ token: '$.accessToken' }`. */
  capture?: Record<string, string>;
  /** Pause after this step succeeds, before the next step (or, in a closed model, the next iteration). */
  thinkMs?: number;
}

/** A string with `${name}` references, split once so that filling it in is a join. */
class Template {
  /** Literal text at even indexes, variable names at odd indexes. */
  private readonly parts: string[];
  readonly isConstant: boolean;

  constructor(
    text: string,
    private readonly escapeValue: (value: string) => string = (value) => value,
  ) {
    this.parts = text.split(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/);
    this.isConstant = this.parts.length === 1;
  }

  get variables(): string[] {
    return this.parts.filter((_, i) => i % 2 === 1);
  }

  fill(vars: Record<string, string>): string {
    if (this.isConstant) return this.parts[0]!;
    let out = this.parts[0]!;
    for (let i = 1; i < this.parts.length; i += 2) {
      out += this.escapeValue(vars[this.parts[i]!] ?? '') + this.parts[i + 1]!;
    }
    return out;
  }
}

/** A JSON path of the subset `$.a.b[0].c` (or `a.b[0].c`), split once. */
function compileJsonPath(path: string): (string | number)[] {
  const body = path.startsWith('$') ? path.slice(1) : `.${path}`;
  const keys: (string | number)[] = [];
  const token = /\.([^.[\]]+)|\[(\d+)\]|\["([^"]*)"\]/y;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    const match = token.exec(body);
    if (!match) throw new Error(`"${path}" is not a JSON path like $.data.token or $.items[0].id`);
    keys.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : match[3]!));
    at = token.lastIndex;
  }
  return keys;
}

function readPath(value: unknown, keys: readonly (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** A step ready to send: templates split, constant parts built once and reused for every request. */
export class CompiledStep {
  readonly name: string;
  readonly method: FlowStep['method'];
  readonly thinkMs: number;
  /** True when the step reads the response body (it has captures). */
  readonly readsBody: boolean;
  private readonly path: Template;
  private readonly headerNames: string[];
  private readonly headerValues: Template[];
  private readonly body: Template | undefined;
  private readonly captures: Array<{ variable: string; path: string; keys: (string | number)[] }>;
  /** Prebuilt `[name, value, …]` headers when no header has a variable. */
  private readonly constantHeaders: string[] | undefined;
  private readonly constantBody: Buffer | undefined;

  constructor(step: FlowStep, basePath: string) {
    this.name = step.name;
    this.method = step.method;
    this.thinkMs = step.thinkMs ?? 0;
    this.path = new Template(basePath + step.path, encodeURIComponent);
    const headers = { ...step.headers };
    if (step.json !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    this.headerNames = Object.keys(headers);
    this.headerValues = this.headerNames.map((name) => new Template(headers[name]!));
    // In a JSON body a value is put inside a JSON string, so it is escaped as one.
    this.body =
      step.json === undefined
        ? undefined
        : new Template(JSON.stringify(step.json), (value) => JSON.stringify(value).slice(1, -1));
    this.captures = Object.entries(step.capture ?? {}).map(([variable, path]) => ({
      variable,
      path,
      keys: compileJsonPath(path),
    }));
    this.readsBody = this.captures.length > 0;
    this.constantHeaders = this.headerValues.every((t) => t.isConstant)
      ? this.headerNames.flatMap((name, i) => [name, this.headerValues[i]!.fill({})])
      : undefined;
    this.constantBody = this.body?.isConstant ? Buffer.from(this.body.fill({})) : undefined;
  }

  /** True when nothing in the request depends on captured values, so one request object serves all. */
  get isConstant(): boolean {
    return this.path.isConstant && this.constantHeaders !== undefined && (!this.body || !!this.constantBody);
  }

  /** Every `${name}` the step reads. */
  get variables(): string[] {
    return [
      ...this.path.variables,
      ...this.headerValues.flatMap((t) => t.variables),
      ...(this.body?.variables ?? []),
    ];
  }

  /** Names this step captures. */
  get captured(): string[] {
    return this.captures.map((c) => c.variable);
  }

  pathFor(vars: Record<string, string>): string {
    return this.path.fill(vars);
  }

  headersFor(vars: Record<string, string>): string[] {
    if (this.constantHeaders) return this.constantHeaders;
    const out: string[] = [];
    for (let i = 0; i < this.headerNames.length; i++)
      out.push(this.headerNames[i]!, this.headerValues[i]!.fill(vars));
    return out;
  }

  bodyFor(vars: Record<string, string>): Buffer | string | null {
    if (!this.body) return null;
    return this.constantBody ?? this.body.fill(vars);
  }

  /**
   * Takes the captures from a response body into `vars`. Returns the JSON path that found
   * nothing, or undefined when every capture was found.
   */
  capture(body: string, vars: Record<string, string>): string | undefined {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      return this.captures[0]?.path;
    }
    for (const { variable, path, keys } of this.captures) {
      const value = readPath(data, keys);
      if (value === undefined || value === null) return path;
      vars[variable] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    return undefined;
  }
}
