import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ConfigInvalidError } from '../../errors.js';
import { hashString, SeededRandom } from './seeded-random.js';
import { findPromptDetails, simulatedMessage, tokenEnd } from './simulated-message.js';
import { listenSimulator } from './simulator-server.js';
import { SlidingWindowLimiter } from './sliding-window-limiter.js';

/** Options of the LLM simulator; every field has a default. */
export interface LlmSimulatorOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Seed of the generated text and of the injected faults; default 1. */
  seed?: number;
  /** Delay before the first token; default 200 ms. */
  timeToFirstTokenMs?: number;
  /** Generation speed after the first token; default 80 tokens/s. */
  tokensPerSecond?: number;
  /** Mean completion length; each prompt gets a deterministic ±10% around it. Default 120. */
  tokensPerMessage?: number;
  /** Share of requests answered 500 with an OpenAI-style error; default 0. */
  errorRate?: number;
  /** Share of requests answered 429 at random (an overloaded provider); default 0. */
  rateLimitRate?: number;
  /** Enforced limits over a sliding minute: beyond them, 429 with Retry-After. */
  /**
   * Per-minute limits, over a sliding window of `windowSeconds` (default 60; a shorter one enforces
   * the same rate over shorter spans, as providers may).
   */
  rateLimit?: { requestsPerMinute?: number; tokensPerMinute?: number; windowSeconds?: number };
  /** Model name reported by /v1/models and in every completion; default `headroom-sim-1`. */
  model?: string;
}

/** Counters of the LLM simulator since it started. */
export interface LlmSimulatorStats {
  /** TCP connections accepted; far fewer than requests when clients keep connections alive. */
  connections: number;
  requests: number;
  /** Completions sent in full (streamed or not). */
  completed: number;
  /** Of the completions, those sent as a stream. */
  streamed: number;
  /** Invalid requests answered 400 (or 404/405/413 for the wrong endpoint or size). */
  badRequests: number;
  /** 429s from the enforced requests-per-minute or tokens-per-minute limits. */
  rateLimited: number;
  /** 429s drawn at random (`rateLimitRate`). */
  injectedRateLimits: number;
  /** 500s drawn at random (`errorRate`). */
  injectedErrors: number;
  /** Completions whose client went away before the end. */
  aborted: number;
  /** Completions under way now. */
  inFlight: number;
  promptTokens: number;
  completionTokens: number;
}

/** A running LLM simulator. */
export interface LlmSimulator {
  /** OpenAI-style base URL, e.g. `http://127.0.0.1:41235/v1`. */
  baseUrl: string;
  port: number;
  stats(): LlmSimulatorStats;
  /** Stops listening and drops every connection, including streams under way. */
  close(): Promise<void>;
}

/** Streams emit the tokens due on a shared tick instead of one write per token. */
const STREAM_TICK_MS = 100;
/** Larger request bodies are refused (413): prompts of the pipeline are a few kilobytes. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Injected 429s ask for a short pause, as an overloaded provider does. */
const INJECTED_RETRY_AFTER_MS = 250;
const JSON_TYPE = 'application/json';
const NO_HEADERS: string[] = [];

interface Completion {
  id: string;
  created: number;
  promptTokens: number;
  /** The whole answer; streams cut it into tokens as they go. */
  text: string;
  completionTokens: number;
  finishReason: 'stop' | 'length';
  /** x-ratelimit-* headers computed when the request was admitted. */
  headers: string[];
}

interface ActiveStream {
  res: ServerResponse;
  completion: Completion;
  firstTokenAtMs: number;
  /** Tokens sent so far, and the offset in `text` where they end. */
  emitted: number;
  emittedOffset: number;
  includeUsage: boolean;
  chunkPrefix: string;
  chunkSuffix: string;
}

/** Starts an OpenAI-compatible chat-completions endpoint with simulated latency, limits and faults. */
export async function startLlmSimulator(opts: LlmSimulatorOptions = {}): Promise<LlmSimulator> {
  const config = resolveOptions(opts);
  const random = new SeededRandom(hashString('llm-simulator-requests', config.seed));
  const requestLimiter =
    config.requestsPerMinute === undefined
      ? undefined
      : new SlidingWindowLimiter(config.requestsPerMinute, config.rateLimitWindowSeconds);
  const tokenLimiter =
    config.tokensPerMinute === undefined
      ? undefined
      : new SlidingWindowLimiter(config.tokensPerMinute, config.rateLimitWindowSeconds);
  const modelJson = JSON.stringify(config.model);
  const msPerToken = 1000 / config.tokensPerSecond;
  const stats: LlmSimulatorStats = {
    connections: 0,
    requests: 0,
    completed: 0,
    streamed: 0,
    badRequests: 0,
    rateLimited: 0,
    injectedRateLimits: 0,
    injectedErrors: 0,
    aborted: 0,
    inFlight: 0,
    promptTokens: 0,
    completionTokens: 0,
  };
  let completionCounter = 0;
  const streams = new Set<ActiveStream>();
  let ticker: NodeJS.Timeout | undefined;

  function sendJson(res: ServerResponse, status: number, body: string, extraHeaders: string[] = []): void {
    if (res.destroyed) return;
    res.writeHead(status, [
      'Content-Type',
      JSON_TYPE,
      'Content-Length',
      String(Buffer.byteLength(body)),
      ...extraHeaders,
    ]);
    res.end(body);
  }

  function sendError(
    res: ServerResponse,
    status: number,
    message: string,
    type: string,
    code: string | null,
    param: string | null = null,
    extraHeaders: string[] = [],
  ): void {
    sendJson(res, status, JSON.stringify({ error: { message, type, param, code } }), extraHeaders);
  }

  function badRequest(res: ServerResponse, message: string, param: string | null = null): void {
    stats.badRequests++;
    sendError(res, 400, message, 'invalid_request_error', null, param);
  }

  function rateLimitHeaders(nowMs: number): string[] {
    const headers: string[] = [];
    if (requestLimiter) {
      headers.push(
        'x-ratelimit-limit-requests',
        String(requestLimiter.limitPerMinute),
        'x-ratelimit-remaining-requests',
        String(requestLimiter.remaining(nowMs)),
        'x-ratelimit-reset-requests',
        formatDuration(requestLimiter.resetMs(nowMs)),
      );
    }
    if (tokenLimiter) {
      headers.push(
        'x-ratelimit-limit-tokens',
        String(tokenLimiter.limitPerMinute),
        'x-ratelimit-remaining-tokens',
        String(tokenLimiter.remaining(nowMs)),
        'x-ratelimit-reset-tokens',
        formatDuration(tokenLimiter.resetMs(nowMs)),
      );
    }
    return headers;
  }

  function retryHeaders(waitMs: number): string[] {
    return [
      'retry-after',
      String(Math.max(1, Math.ceil(waitMs / 1000))),
      'retry-after-ms',
      String(Math.ceil(waitMs)),
    ];
  }

  /**
   * Applies the enforced limits. Returns the x-ratelimit-* headers for the answer, or undefined
   * after answering 429 when the request does not fit.
   */
  function admit(res: ServerResponse, tokens: number): string[] | undefined {
    if (!requestLimiter && !tokenLimiter) return NO_HEADERS;
    const nowMs = performance.now();
    const requestWaitMs = requestLimiter ? requestLimiter.waitMs(nowMs, 1) : 0;
    const tokenWaitMs = tokenLimiter ? tokenLimiter.waitMs(nowMs, tokens) : 0;
    if (requestWaitMs === 0 && tokenWaitMs === 0) {
      requestLimiter?.take(nowMs, 1);
      tokenLimiter?.take(nowMs, tokens);
      return rateLimitHeaders(nowMs);
    }
    stats.rateLimited++;
    const byRequests = requestWaitMs >= tokenWaitMs;
    const limiter = (byRequests ? requestLimiter : tokenLimiter)!;
    const unit = byRequests ? 'requests' : 'tokens';
    const waitMs = Math.max(requestWaitMs, tokenWaitMs);
    if (waitMs === Number.POSITIVE_INFINITY) {
      sendError(
        res,
        429,
        `Request too large for ${config.model}: limit ${limiter.limitPerMinute} ${unit} per min, requested ${tokens}.`,
        unit,
        'rate_limit_exceeded',
        null,
        [...retryHeaders(60_000), ...rateLimitHeaders(nowMs)],
      );
      return undefined;
    }
    sendError(
      res,
      429,
      `Rate limit reached for ${config.model} on ${unit} per min: limit ${limiter.limitPerMinute}. ` +
        `Please try again in ${formatDuration(waitMs)}.`,
      unit,
      'rate_limit_exceeded',
      null,
      [...retryHeaders(waitMs), ...rateLimitHeaders(nowMs)],
    );
    return undefined;
  }

  function handleCompletion(res: ServerResponse, raw: string): void {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      badRequest(res, 'We could not parse the JSON body of your request.');
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      badRequest(res, 'The request body must be a JSON object.');
      return;
    }
    const request = body as Record<string, unknown>;
    const messages = request.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      badRequest(res, "'messages' is a required property and must be a non-empty array", 'messages');
      return;
    }
    let promptChars = 0;
    let promptHash = config.seed >>> 0;
    let lastUserText = '';
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as { role?: unknown; content?: unknown } | null;
      const text = message === null || typeof message !== 'object' ? undefined : contentText(message.content);
      if (text === undefined || typeof message?.role !== 'string') {
        badRequest(
          res,
          `'messages.${i}' must be an object with a string 'role' and a 'content'`,
          `messages.${i}`,
        );
        return;
      }
      promptChars += text.length;
      promptHash = hashString(text, hashString(message.role, promptHash));
      if (message.role === 'user') lastUserText = text;
    }
    const maxTokens = request.max_completion_tokens ?? request.max_tokens;
    if (
      maxTokens !== undefined &&
      maxTokens !== null &&
      !(Number.isInteger(maxTokens) && (maxTokens as number) >= 1)
    ) {
      badRequest(res, "'max_tokens' must be an integer >= 1", 'max_tokens');
      return;
    }
    const stream = request.stream === true;
    const includeUsage =
      stream && (request.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;

    const promptTokens = Math.max(1, Math.ceil(promptChars / 4));
    // ±10% around the mean, fixed by the prompt so the same prompt always gets the same answer.
    let completionTokens = Math.max(
      1,
      Math.round(config.tokensPerMessage * (0.9 + 0.2 * ((promptHash & 0xffff) / 0xffff))),
    );
    let finishReason: Completion['finishReason'] = 'stop';
    if (typeof maxTokens === 'number' && maxTokens < completionTokens) {
      completionTokens = maxTokens;
      finishReason = 'length';
    }

    // Injected 429s come first: an overloaded provider refuses before counting against the limits.
    if (config.rateLimitRate > 0 && random.next() < config.rateLimitRate) {
      stats.injectedRateLimits++;
      sendError(
        res,
        429,
        `The server is overloaded for ${config.model}; please retry after a short pause.`,
        'requests',
        'rate_limit_exceeded',
        null,
        retryHeaders(INJECTED_RETRY_AFTER_MS),
      );
      return;
    }
    const limitHeaders = admit(res, promptTokens + completionTokens);
    if (limitHeaders === undefined) return;
    const fails = config.errorRate > 0 && random.next() < config.errorRate;

    const completion: Completion = {
      id: `chatcmpl-${(promptHash >>> 0).toString(16)}${(++completionCounter).toString(36)}`,
      created: Math.floor(Date.now() / 1000),
      promptTokens,
      text: fails ? '' : simulatedMessage(findPromptDetails(lastUserText), promptHash, completionTokens),
      completionTokens,
      finishReason,
      headers: limitHeaders,
    };
    stats.inFlight++;
    if (fails) {
      setTimeout(failRequest, config.timeToFirstTokenMs, res, limitHeaders).unref();
      return;
    }
    if (stream) {
      setTimeout(startStream, config.timeToFirstTokenMs, res, completion, includeUsage).unref();
    } else {
      const durationMs = Math.round(config.timeToFirstTokenMs + completionTokens * msPerToken);
      setTimeout(finishCompletion, durationMs, res, completion).unref();
    }
  }

  /**
   * True when the client went away while its answer was being prepared. Checked when the answer
   * is due rather than with a 'close' listener per request: one listener fewer on the hot path.
   */
  function clientGone(res: ServerResponse): boolean {
    if (!res.destroyed) return false;
    stats.inFlight--;
    stats.aborted++;
    return true;
  }

  function failRequest(res: ServerResponse, limitHeaders: string[]): void {
    if (clientGone(res)) return;
    stats.inFlight--;
    stats.injectedErrors++;
    sendError(
      res,
      500,
      'The server had an error while processing your request. Sorry about that!',
      'server_error',
      null,
      null,
      limitHeaders,
    );
  }

  function finishCompletion(res: ServerResponse, completion: Completion): void {
    if (clientGone(res)) return;
    stats.inFlight--;
    const { completionTokens } = completion;
    const body =
      `{"id":"${completion.id}","object":"chat.completion","created":${completion.created},"model":${modelJson},` +
      `"choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(completion.text)},` +
      `"refusal":null},"logprobs":null,"finish_reason":"${completion.finishReason}"}],` +
      `"usage":${usageJson(completion.promptTokens, completionTokens)},"system_fingerprint":null}`;
    stats.completed++;
    stats.promptTokens += completion.promptTokens;
    stats.completionTokens += completionTokens;
    sendJson(res, 200, body, completion.headers);
  }

  function startStream(res: ServerResponse, completion: Completion, includeUsage: boolean): void {
    if (clientGone(res)) return;
    const usageField = includeUsage ? ',"usage":null' : '';
    const active: ActiveStream = {
      res,
      completion,
      firstTokenAtMs: performance.now(),
      emitted: 0,
      emittedOffset: 0,
      includeUsage,
      chunkPrefix:
        `data: {"id":"${completion.id}","object":"chat.completion.chunk","created":${completion.created},` +
        `"model":${modelJson},"system_fingerprint":null,"choices":[{"index":0,"delta":{`,
      chunkSuffix: `},"logprobs":null,"finish_reason":null}]${usageField}}\n\n`,
    };
    res.writeHead(200, [
      'Content-Type',
      'text/event-stream; charset=utf-8',
      'Cache-Control',
      'no-cache',
      ...completion.headers,
    ]);
    // The first chunk carries the role, as OpenAI's does; the first token follows in the same write.
    const roleChunk = `${active.chunkPrefix}"role":"assistant","content":""${active.chunkSuffix}`;
    if (!emitDue(active, active.firstTokenAtMs, roleChunk)) {
      streams.add(active);
      ticker ??= setInterval(tick, STREAM_TICK_MS).unref();
    }
  }

  function tick(): void {
    const nowMs = performance.now();
    for (const active of streams) {
      if (clientGone(active.res) || emitDue(active, nowMs)) streams.delete(active);
    }
    if (streams.size === 0 && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  }

  /**
   * Writes `lead` and the tokens due by `nowMs` in one chunk (one write); returns true once the
   * stream is finished.
   */
  function emitDue(active: ActiveStream, nowMs: number, lead = ''): boolean {
    const { res, completion } = active;
    const total = completion.completionTokens;
    const due = Math.min(total, 1 + Math.floor((nowMs - active.firstTokenAtMs) / msPerToken));
    let out = lead;
    if (due > active.emitted) {
      const end =
        due === total
          ? completion.text.length
          : tokenEnd(completion.text, active.emittedOffset, due - active.emitted);
      const text = completion.text.slice(active.emittedOffset, end);
      out += `${active.chunkPrefix}"content":${JSON.stringify(text)}${active.chunkSuffix}`;
      active.emitted = due;
      active.emittedOffset = end;
    }
    if (active.emitted < total) {
      if (out.length > 0) res.write(out);
      return false;
    }
    const usageField = active.includeUsage ? ',"usage":null' : '';
    out += `${active.chunkPrefix}},"logprobs":null,"finish_reason":"${completion.finishReason}"}]${usageField}}\n\n`;
    if (active.includeUsage) {
      out +=
        `data: {"id":"${completion.id}","object":"chat.completion.chunk","created":${completion.created},` +
        `"model":${modelJson},"system_fingerprint":null,"choices":[],` +
        `"usage":${usageJson(completion.promptTokens, total)}}\n\n`;
    }
    out += 'data: [DONE]\n\n';
    stats.inFlight--;
    stats.completed++;
    stats.streamed++;
    stats.promptTokens += completion.promptTokens;
    stats.completionTokens += total;
    res.end(out);
    return true;
  }

  function readBody(req: IncomingMessage, res: ServerResponse, then: (raw: string) => void): void {
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      sizeBytes += chunk.length;
      if (sizeBytes > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        stats.badRequests++;
        sendError(
          res,
          413,
          `The request body is larger than ${MAX_BODY_BYTES} bytes.`,
          'invalid_request_error',
          null,
        );
        return;
      }
      then(chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString());
    });
  }

  const modelsBody = JSON.stringify({
    object: 'list',
    data: [{ id: config.model, object: 'model', created: 1_700_000_000, owned_by: 'headroom' }],
  });

  const server = createServer((req, res) => {
    stats.requests++;
    const path = pathOf(req.url);
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') {
        stats.badRequests++;
        req.resume();
        sendError(
          res,
          405,
          `Method ${req.method} is not allowed on ${path}; use POST.`,
          'invalid_request_error',
          null,
        );
        return;
      }
      readBody(req, res, (raw) => handleCompletion(res, raw));
      return;
    }
    if (path === '/v1/models' && req.method === 'GET') {
      sendJson(res, 200, modelsBody);
      return;
    }
    stats.badRequests++;
    req.resume();
    sendError(res, 404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error', null);
  });
  server.on('connection', () => stats.connections++);
  const listening = await listenSimulator(server, config, () => {
    if (ticker !== undefined) clearInterval(ticker);
    ticker = undefined;
    streams.clear();
  });
  return {
    baseUrl: `${listening.origin}/v1`,
    port: listening.port,
    stats: () => ({ ...stats }),
    close: listening.close,
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Text of a message's content: a string, or OpenAI's array of parts (text parts counted). */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (content === null) return '';
  if (!Array.isArray(content)) return undefined;
  let text = '';
  for (const part of content) {
    const value = (part as { text?: unknown } | null)?.text;
    if (typeof value === 'string') text += value;
  }
  return text;
}

function usageJson(promptTokens: number, completionTokens: number): string {
  return `{"prompt_tokens":${promptTokens},"completion_tokens":${completionTokens},"total_tokens":${promptTokens + completionTokens}}`;
}

/** OpenAI's duration format in x-ratelimit-reset-*: `120ms`, `1.5s`, `6m0s`. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const seconds = Math.ceil(ms) / 1000;
  if (seconds < 60) return `${Number(seconds.toFixed(3))}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Number((seconds - minutes * 60).toFixed(3))}s`;
}

interface ResolvedLlmSimulatorOptions {
  host: string;
  port: number;
  seed: number;
  timeToFirstTokenMs: number;
  tokensPerSecond: number;
  tokensPerMessage: number;
  errorRate: number;
  rateLimitRate: number;
  requestsPerMinute: number | undefined;
  tokensPerMinute: number | undefined;
  rateLimitWindowSeconds: number;
  model: string;
}

function resolveOptions(opts: LlmSimulatorOptions): ResolvedLlmSimulatorOptions {
  const config: ResolvedLlmSimulatorOptions = {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    seed: opts.seed ?? 1,
    timeToFirstTokenMs: opts.timeToFirstTokenMs ?? 200,
    tokensPerSecond: opts.tokensPerSecond ?? 80,
    tokensPerMessage: opts.tokensPerMessage ?? 120,
    errorRate: opts.errorRate ?? 0,
    rateLimitRate: opts.rateLimitRate ?? 0,
    requestsPerMinute: opts.rateLimit?.requestsPerMinute,
    tokensPerMinute: opts.rateLimit?.tokensPerMinute,
    rateLimitWindowSeconds: opts.rateLimit?.windowSeconds ?? 60,
    model: opts.model ?? 'headroom-sim-1',
  };
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    problems.push(`port: must be an integer in 0..65535 (got ${config.port})`);
  }
  if (!Number.isInteger(config.seed)) problems.push(`seed: must be an integer (got ${config.seed})`);
  if (!(config.timeToFirstTokenMs >= 0)) {
    problems.push(`timeToFirstTokenMs: must be >= 0 (got ${config.timeToFirstTokenMs})`);
  }
  if (!(config.tokensPerSecond > 0))
    problems.push(`tokensPerSecond: must be > 0 (got ${config.tokensPerSecond})`);
  if (!(Number.isInteger(config.tokensPerMessage) && config.tokensPerMessage >= 1)) {
    problems.push(`tokensPerMessage: must be an integer >= 1 (got ${config.tokensPerMessage})`);
  }
  for (const name of ['errorRate', 'rateLimitRate'] as const) {
    if (!(config[name] >= 0 && config[name] <= 1))
      problems.push(`${name}: must be in 0..1 (got ${config[name]})`);
  }
  for (const name of ['requestsPerMinute', 'tokensPerMinute'] as const) {
    const value = config[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      problems.push(`rateLimit.${name}: must be an integer >= 1 (got ${value})`);
    }
  }
  const w = config.rateLimitWindowSeconds;
  if (!(Number.isInteger(w) && w >= 1 && w <= 60))
    problems.push(`rateLimit.windowSeconds: must be an integer in 1..60 (got ${w})`);
  if (config.model.length === 0) problems.push('model: must not be empty');
  if (problems.length > 0) throw new ConfigInvalidError('LLM simulator options', problems);
  return config;
}
