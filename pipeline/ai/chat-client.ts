import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { ConfigInvalidError, LlmFailedError } from '../../errors.js';

/** Options of the chat client. */
export interface ChatClientOptions {
  /** OpenAI-style base URL, e.g. `https://api.openai.com/v1` or a simulator's `http://127.0.0.1:PORT/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>` when set. */
  apiKey?: string;
  model: string;
  /** Ask for server-sent events and assemble the deltas; default false. */
  stream?: boolean;
  /** Sent as `max_tokens` when set. */
  maxTokens?: number;
  /** Longest wait for the response headers, and between two body chunks; default 60,000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt (429, 5xx, timeouts, connection errors); default 5. */
  retries?: number;
  /** First backoff delay when the server gives no Retry-After; doubles per retry. Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Upper bound of open connections to the endpoint; default 4096. */
  maxConnections?: number;
  /**
   * How long one request may wait in total on 429 answers before it fails; default 600,000 ms.
   * 429s do not count against `retries`: a provider's rate limit caps throughput, it does not
   * make a row fail.
   */
  rateLimitPatienceMs?: number;
  /** Told of every attempt's outcome: its HTTP status, or `error` when no answer came (telemetry). */
  onAttempt?: (status: number | 'error') => void;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One completed chat: the text, token counts and what it took to get it. */
export interface ChatCompletion {
  content: string;
  model: string;
  /** From the server's `usage`, or estimated (characters ÷ 4) when the server sends none. */
  promptTokens: number;
  completionTokens: number;
  /** 1 when the first try succeeded. */
  attempts: number;
  /** From the first try to the answer, backoff delays included. */
  durationMs: number;
}

/** Backoff without a server hint never waits longer than this between two tries. */
const MAX_BACKOFF_MS = 30_000;
/** A server asking for longer than this is treated as asking for this long. */
const MAX_SERVER_DELAY_MS = 120_000;
/**
 * undici's Pool finds a free connection by scanning all of its connections, which costs tens of
 * microseconds per request once thousands are busy. Shards of this many connections keep the scan
 * short. A request goes to the first shard with a free connection, so light load uses few
 * connections and heavy load spreads over as many as allowed.
 */
const CONNECTIONS_PER_SHARD = 64;
/** Error bodies longer than this are cut in the failure reason. */
const MAX_REASON_CHARS = 300;

type Attempt =
  | { ok: true; completion: Omit<ChatCompletion, 'attempts' | 'durationMs'> }
  | {
      ok: false;
      retryable: boolean;
      status?: number;
      message: string;
      retryAfterMs?: number;
      cause?: unknown;
    };

/** The response was received but is not a chat completion; retrying would not help. */
class UnreadableResponseError extends Error {}
/** A stream broke off or carried an error event; another try may succeed. */
class BrokenStreamError extends Error {}

/**
 * A client of OpenAI-compatible chat-completions endpoints: keep-alive connections from undici
 * pools, streaming or not, retries on 429, 5xx, timeouts and connection errors honouring
 * `retry-after-ms` and `Retry-After`, else exponential backoff with jitter.
 */
export class ChatClient {
  private readonly shards: Pool[] = [];
  /** Requests under way per shard, and connections per shard. */
  private readonly shardLoads: Int32Array;
  private readonly shardSizes: Int32Array;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly model: string;
  private readonly stream: boolean;
  private readonly maxTokens: number | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseDelayMs: number;
  private readonly rateLimitPatienceMs: number;
  private readonly onAttempt: ChatClientOptions['onAttempt'];
  /**
   * Until when the endpoint asked every caller to hold off (its last 429's Retry-After). Callers
   * wait for it before sending, so thousands of rows in flight do not answer a rate limit with
   * thousands of refused requests.
   */
  private rateLimitedUntilMs = 0;
  private closed = false;

  constructor(opts: ChatClientOptions) {
    const url = parseOptions(opts);
    this.model = opts.model;
    this.stream = opts.stream ?? false;
    this.maxTokens = opts.maxTokens;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.retries = opts.retries ?? 5;
    this.retryBaseDelayMs = opts.retryBaseDelayMs ?? 500;
    this.rateLimitPatienceMs = opts.rateLimitPatienceMs ?? 600_000;
    this.onAttempt = opts.onAttempt;
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    this.headers = {
      'content-type': 'application/json',
      accept: this.stream ? 'text/event-stream' : 'application/json',
    };
    if (opts.apiKey) this.headers.authorization = `Bearer ${opts.apiKey}`;
    const maxConnections = opts.maxConnections ?? 4096;
    for (let left = maxConnections; left > 0; left -= CONNECTIONS_PER_SHARD) {
      this.shards.push(
        new Pool(url.origin, {
          connections: Math.min(left, CONNECTIONS_PER_SHARD),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        }),
      );
    }
    this.shardLoads = new Int32Array(this.shards.length);
    this.shardSizes = Int32Array.from(this.shards, (_, i) =>
      Math.min(maxConnections - i * CONNECTIONS_PER_SHARD, CONNECTIONS_PER_SHARD),
    );
  }

  /**
   * Sends one chat and returns the assistant's answer. Throws `LlmFailedError` when the endpoint
   * refuses it (4xx other than 429) or still fails after all retries.
   */
  async complete(messages: ChatMessage[]): Promise<ChatCompletion> {
    const startedMs = performance.now();
    const body = JSON.stringify({
      model: this.model,
      messages,
      ...(this.maxTokens === undefined ? {} : { max_tokens: this.maxTokens }),
      ...(this.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    });
    let failures = 0;
    for (let attempt = 1; ; attempt++) {
      await this.rateLimitPause();
      if (this.closed) throw new LlmFailedError('the LLM client is closed', false);
      const outcome = await this.attempt(body, messages);
      this.onAttempt?.(outcome.ok ? 200 : (outcome.status ?? 'error'));
      if (outcome.ok) {
        return { ...outcome.completion, attempts: attempt, durationMs: performance.now() - startedMs };
      }
      const rateLimited = outcome.status === 429;
      if (!rateLimited) failures++;
      const exhausted = rateLimited
        ? performance.now() - startedMs >= this.rateLimitPatienceMs
        : failures > this.retries;
      if (!outcome.retryable || exhausted) {
        const tries = `${attempt} attempt${attempt === 1 ? '' : 's'}`;
        const what = outcome.status === undefined ? 'LLM request failed' : `LLM answered ${outcome.status}`;
        throw new LlmFailedError(`${what} after ${tries}: ${outcome.message}`, outcome.retryable, {
          cause: outcome.cause,
        });
      }
      const delayMs = this.retryDelayMs(rateLimited ? 1 : failures, outcome.retryAfterMs);
      if (rateLimited) this.rateLimitedUntilMs = Math.max(this.rateLimitedUntilMs, Date.now() + delayMs);
      await sleep(delayMs);
    }
  }

  /** Waits while the endpoint's last 429 asks callers to hold off, spread by up to 10%. */
  private async rateLimitPause(): Promise<void> {
    const waitMs = this.rateLimitedUntilMs - Date.now();
    if (waitMs > 0) await sleep(waitMs * (1 + 0.1 * Math.random()));
  }

  /** Waits for requests under way, then closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.shards.map((pool) => pool.close()));
  }

  private async attempt(body: string, messages: ChatMessage[]): Promise<Attempt> {
    const shard = this.pickShard();
    this.shardLoads[shard]!++;
    try {
      return await this.send(this.shards[shard]!, body, messages);
    } finally {
      this.shardLoads[shard]!--;
    }
  }

  private pickShard(): number {
    const loads = this.shardLoads;
    let leastLoaded = 0;
    for (let i = 0; i < loads.length; i++) {
      if (loads[i]! < this.shardSizes[i]!) return i;
      if (loads[i]! / this.shardSizes[i]! < loads[leastLoaded]! / this.shardSizes[leastLoaded]!)
        leastLoaded = i;
    }
    return leastLoaded;
  }

  private async send(pool: Pool, body: string, messages: ChatMessage[]): Promise<Attempt> {
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await pool.request({ method: 'POST', path: this.path, headers: this.headers, body });
    } catch (err) {
      return this.requestFailure(err);
    }
    const { statusCode, headers } = response;
    if (statusCode < 200 || statusCode >= 300) {
      const text = await response.body.text().catch(() => '');
      return {
        ok: false,
        // 429 and 5xx are the server's state, worth another try; other 4xx are this request's fault.
        retryable: statusCode === 429 || statusCode >= 500,
        status: statusCode,
        message: errorReason(text),
        retryAfterMs: parseRetryAfterMs(headers),
      };
    }
    try {
      const completion = this.stream
        ? await this.readStream(response.body, messages)
        : this.readJson(await response.body.json(), messages);
      return { ok: true, completion };
    } catch (err) {
      if (err instanceof UnreadableResponseError || err instanceof SyntaxError) {
        response.body.destroy();
        return { ok: false, retryable: false, status: statusCode, message: err.message, cause: err };
      }
      if (err instanceof BrokenStreamError)
        return { ok: false, retryable: true, message: err.message, cause: err };
      return this.requestFailure(err);
    }
  }

  private requestFailure(err: unknown): Attempt {
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return {
        ok: false,
        retryable: true,
        message: `no answer within ${this.timeoutMs} ms (${code})`,
        cause: err,
      };
    }
    // A closed or destroyed pool, or a request undici refuses to send, will not get better.
    const retryable = !(
      code === 'UND_ERR_CLOSED' ||
      code === 'UND_ERR_DESTROYED' ||
      code === 'UND_ERR_INVALID_ARG' ||
      code === 'UND_ERR_NOT_SUPPORTED'
    );
    return {
      ok: false,
      retryable,
      message: typeof code === 'string' ? `${message} (${code})` : message,
      cause: err,
    };
  }

  private readJson(data: unknown, messages: ChatMessage[]): Omit<ChatCompletion, 'attempts' | 'durationMs'> {
    const answer = data as {
      model?: unknown;
      choices?: Array<{ message?: { content?: unknown } }>;
      usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
    } | null;
    const content = answer?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') {
      throw new UnreadableResponseError('the response has no choices[0].message.content string');
    }
    return {
      content,
      model: typeof answer?.model === 'string' ? answer.model : this.model,
      promptTokens: tokenCount(answer?.usage?.prompt_tokens, () => estimatePromptTokens(messages)),
      completionTokens: tokenCount(answer?.usage?.completion_tokens, () => estimateTokens(content.length)),
    };
  }

  private async readStream(
    body: AsyncIterable<string> & { setEncoding(encoding: BufferEncoding): unknown },
    messages: ChatMessage[],
  ): Promise<Omit<ChatCompletion, 'attempts' | 'durationMs'>> {
    body.setEncoding('utf8');
    let pending = '';
    let content = '';
    let model: string | undefined;
    let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
    let finished = false;
    for await (const text of body) {
      pending += text;
      let start = 0;
      for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
        const line =
          pending.charCodeAt(end - 1) === 13 ? pending.slice(start, end - 1) : pending.slice(start, end);
        start = end + 1;
        // Server-sent events: only `data:` lines matter here; comments, `event:` and blank lines do not.
        if (!line.startsWith('data:')) continue;
        const payload = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        if (payload === '[DONE]') {
          finished = true;
          continue;
        }
        const chunk = parseChunk(payload);
        if (chunk.error)
          throw new BrokenStreamError(`error event in the stream: ${errorReason(JSON.stringify(chunk))}`);
        const choice = chunk.choices?.[0];
        const delta = choice?.delta?.content;
        if (typeof delta === 'string') content += delta;
        if (typeof choice?.finish_reason === 'string') finished = true;
        if (chunk.usage) usage = chunk.usage;
        if (model === undefined && typeof chunk.model === 'string') model = chunk.model;
      }
      pending = start === 0 ? pending : pending.slice(start);
    }
    if (!finished) throw new BrokenStreamError('the stream ended before the completion finished');
    return {
      content,
      model: model ?? this.model,
      promptTokens: tokenCount(usage?.prompt_tokens, () => estimatePromptTokens(messages)),
      completionTokens: tokenCount(usage?.completion_tokens, () => estimateTokens(content.length)),
    };
  }

  private retryDelayMs(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) {
      // At least what the server asked, plus up to 10% so that refused clients do not return together.
      return Math.min(retryAfterMs, MAX_SERVER_DELAY_MS) * (1 + 0.1 * Math.random());
    }
    const backoffMs = Math.min(this.retryBaseDelayMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
    return backoffMs * (0.5 + 0.5 * Math.random());
  }
}

/**
 * The delay a response asks for, in milliseconds: `retry-after-ms` (OpenAI's) first, then
 * `Retry-After` as seconds or as an HTTP date; undefined when neither is usable.
 */
export function parseRetryAfterMs(headers: IncomingHttpHeaders, nowMs = Date.now()): number | undefined {
  const ms = firstHeader(headers['retry-after-ms']);
  if (ms !== undefined) {
    const value = Number(ms);
    if (ms.trim() !== '' && Number.isFinite(value) && value >= 0) return value;
  }
  const after = firstHeader(headers['retry-after'])?.trim();
  if (after === undefined || after === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Number(after) * 1000;
  const dateMs = Date.parse(after);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

interface StreamChunk {
  model?: unknown;
  error?: unknown;
  choices?: Array<{ delta?: { content?: unknown }; finish_reason?: unknown }>;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
}

function parseChunk(payload: string): StreamChunk {
  try {
    const chunk = JSON.parse(payload) as unknown;
    if (typeof chunk === 'object' && chunk !== null) return chunk as StreamChunk;
  } catch {
    // Reported below with the payload.
  }
  throw new UnreadableResponseError(`unreadable stream event: ${payload.slice(0, MAX_REASON_CHARS)}`);
}

/** The `error.message` of an OpenAI-style error body, else the body itself (cut). */
function errorReason(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } } | null)?.error?.message;
    if (typeof message === 'string' && message.length > 0) return message.slice(0, MAX_REASON_CHARS);
  } catch {
    // Not JSON: the raw text says more than nothing.
  }
  const trimmed = text.trim();
  return trimmed.length === 0 ? '(empty body)' : trimmed.slice(0, MAX_REASON_CHARS);
}

function tokenCount(value: unknown, estimate: () => number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : estimate();
}

/** About four characters per token for English text, the usual rule of thumb. */
function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

function estimatePromptTokens(messages: ChatMessage[]): number {
  let chars = 0;
  for (const message of messages) chars += message.content.length;
  return estimateTokens(chars);
}

function parseOptions(opts: ChatClientOptions): URL {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(opts.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`baseUrl: must be an http(s) URL (got "${opts.baseUrl}")`);
    }
  } catch {
    problems.push(`baseUrl: must be a URL such as https://api.openai.com/v1 (got "${opts.baseUrl}")`);
  }
  if (typeof opts.model !== 'string' || opts.model.length === 0) problems.push('model: must not be empty');
  const positive = {
    timeoutMs: opts.timeoutMs,
    maxConnections: opts.maxConnections,
    maxTokens: opts.maxTokens,
  };
  for (const [name, value] of Object.entries(positive)) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      problems.push(`${name}: must be an integer >= 1 (got ${value})`);
    }
  }
  const nonNegative = { retries: opts.retries, retryBaseDelayMs: opts.retryBaseDelayMs };
  for (const [name, value] of Object.entries(nonNegative)) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      problems.push(`${name}: must be >= 0 (got ${value})`);
    }
  }
  if (problems.length > 0 || url === undefined) throw new ConfigInvalidError('LLM client options', problems);
  return url;
}
