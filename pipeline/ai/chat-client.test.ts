import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError, LlmFailedError } from '../../errors.js';
import { type LlmSimulator, type LlmSimulatorOptions, startLlmSimulator } from '../sim/llm-simulator.js';
import { ChatClient, type ChatClientOptions, type ChatMessage, parseRetryAfterMs } from './chat-client.js';

const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You write short outreach messages.' },
  { role: 'user', content: 'Company: Acme Roofing\nContact: Dana\nWebsite: http://site-1.sites.test/' },
];

async function simulatorWith(opts: LlmSimulatorOptions = {}): Promise<LlmSimulator> {
  const llm = await startLlmSimulator({ timeToFirstTokenMs: 5, tokensPerSecond: 5_000, ...opts });
  onTestFinished(() => llm.close());
  return llm;
}

function clientFor(baseUrl: string, opts: Partial<ChatClientOptions> = {}): ChatClient {
  const client = new ChatClient({ baseUrl, model: 'headroom-sim-1', retryBaseDelayMs: 10, ...opts });
  onTestFinished(() => client.close());
  return client;
}

/** A scripted OpenAI-style server: the n-th request (from 0) gets `answer(n)`. */
async function scriptedServer(
  answer: (n: number, res: ServerResponse, headers: IncomingHttpHeaders) => void,
) {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(n++, res, req.headers));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests: () => n };
}

function completionJson(content: string): string {
  return JSON.stringify({
    model: 'scripted',
    choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 11, completion_tokens: 3 },
  });
}

async function failure(promise: Promise<unknown>): Promise<LlmFailedError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(LlmFailedError);
  return error as LlmFailedError;
}

describe('ChatClient', () => {
  it('returns the content and the usage of a completion', async () => {
    const llm = await simulatorWith({ tokensPerMessage: 80 });
    const completion = await clientFor(llm.baseUrl).complete(MESSAGES);
    expect(completion.content).toContain('Acme Roofing');
    expect(completion.model).toBe('headroom-sim-1');
    expect(completion.attempts).toBe(1);
    expect(completion.durationMs).toBeGreaterThan(0);
    expect(completion.promptTokens).toBe(llm.stats().promptTokens);
    expect(completion.completionTokens).toBe(llm.stats().completionTokens);
    expect(completion.completionTokens).toBeGreaterThanOrEqual(72);
  });

  it('streams the same content and usage as a plain completion', async () => {
    const llm = await simulatorWith({ tokensPerSecond: 400, tokensPerMessage: 80 });
    const plain = await clientFor(llm.baseUrl).complete(MESSAGES);
    const streamed = await clientFor(llm.baseUrl, { stream: true }).complete(MESSAGES);
    expect(streamed.content).toBe(plain.content);
    expect(streamed.promptTokens).toBe(plain.promptTokens);
    expect(streamed.completionTokens).toBe(plain.completionTokens);
    expect(llm.stats()).toMatchObject({ completed: 2, streamed: 1 });
  });

  it('gets the same text for the same prompt', async () => {
    const llm = await simulatorWith();
    const client = clientFor(llm.baseUrl);
    const first = await client.complete(MESSAGES);
    const second = await client.complete(MESSAGES);
    expect(second.content).toBe(first.content);
  });

  it('reuses its keep-alive connections', async () => {
    const llm = await simulatorWith();
    const client = clientFor(llm.baseUrl);
    for (let i = 0; i < 10; i++) await client.complete(MESSAGES);
    expect(llm.stats().completed).toBe(10);
    // undici may open a second connection when a request follows the previous answer within the same tick.
    expect(llm.stats().connections).toBeLessThanOrEqual(2);
  });

  it('spreads concurrent requests over up to maxConnections connections', async () => {
    const llm = await simulatorWith({ timeToFirstTokenMs: 200 });
    const client = clientFor(llm.baseUrl, { maxConnections: 130 });
    const completions = await Promise.all(Array.from({ length: 200 }, () => client.complete(MESSAGES)));
    expect(completions.every((c) => c.attempts === 1)).toBe(true);
    expect(llm.stats().completed).toBe(200);
    expect(llm.stats().connections).toBeGreaterThan(64);
    expect(llm.stats().connections).toBeLessThanOrEqual(130);
  });

  it('sends max_tokens and the API key', async () => {
    let seen: { headers: IncomingHttpHeaders; body: string } | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen = { headers: req.headers, body };
        res.writeHead(200, { 'content-type': 'application/json' }).end(completionJson('ok'));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
    await clientFor(baseUrl, { apiKey: 'sk-test', maxTokens: 50, model: 'gpt-x' }).complete(MESSAGES);
    expect(seen!.headers.authorization).toBe('Bearer sk-test');
    expect(JSON.parse(seen!.body)).toEqual({ model: 'gpt-x', messages: MESSAGES, max_tokens: 50 });
  });

  it('retries 429s with Retry-After and succeeds', async () => {
    const llm = await simulatorWith({ rateLimitRate: 0.5, seed: 5 });
    const client = clientFor(llm.baseUrl, { retries: 10 });
    const completions = await Promise.all(Array.from({ length: 20 }, () => client.complete(MESSAGES)));
    expect(completions.every((c) => c.content.length > 0)).toBe(true);
    const retried = completions.filter((c) => c.attempts > 1).length;
    expect(retried).toBeGreaterThan(0);
    expect(llm.stats()).toMatchObject({ completed: 20 });
    expect(llm.stats().injectedRateLimits).toBe(completions.reduce((sum, c) => sum + c.attempts - 1, 0));
  });

  it('waits the Retry-After seconds before retrying', async () => {
    const server = await scriptedServer((n, res) => {
      if (n === 0) res.writeHead(429, { 'retry-after': '1' }).end('{"error":{"message":"slow down"}}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(completionJson('hello'));
    });
    const completion = await clientFor(server.baseUrl).complete(MESSAGES);
    expect(completion).toMatchObject({
      content: 'hello',
      attempts: 2,
      promptTokens: 11,
      completionTokens: 3,
    });
    expect(completion.durationMs).toBeGreaterThanOrEqual(1_000);
  });

  it('fails with LlmFailedError after the configured retries when the server keeps answering 500', async () => {
    const llm = await simulatorWith({ errorRate: 1 });
    const error = await failure(clientFor(llm.baseUrl, { retries: 2 }).complete(MESSAGES));
    expect(error.message).toBe(
      'LLM answered 500 after 3 attempts: The server had an error while processing your request. Sorry about that!',
    );
    expect(error.retryable).toBe(true);
    expect(error.code).toBe('HRM_LLM_FAILED');
    expect(llm.stats().injectedErrors).toBe(3);
  });

  it('does not retry a 4xx other than 429', async () => {
    const llm = await simulatorWith();
    const error = await failure(clientFor(llm.baseUrl).complete([]));
    expect(error.message).toMatch(/^LLM answered 400 after 1 attempt: 'messages' is a required property/);
    expect(error.retryable).toBe(false);
    expect(llm.stats().requests).toBe(1);
  });

  it('gives up on the simulator’s enforced rate limit once its patience runs out', async () => {
    const llm = await simulatorWith({ rateLimit: { requestsPerMinute: 1 } });
    const client = clientFor(llm.baseUrl, { retries: 0, rateLimitPatienceMs: 0 });
    await client.complete(MESSAGES);
    const error = await failure(client.complete(MESSAGES));
    expect(error.message).toMatch(/^LLM answered 429 after 1 attempt: Rate limit reached/);
    expect(error.retryable).toBe(true);
    expect(llm.stats().rateLimited).toBe(1);
  });

  it('waits out a rate limit without counting 429s against its retries', async () => {
    // The first 30 requests are refused with a 200 ms hold-off, as a provider over its limit does.
    const server = await scriptedServer((n, res) => {
      if (n < 30) res.writeHead(429, { 'retry-after-ms': '200' }).end('{"error":{"message":"slow down"}}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(completionJson('hello'));
    });
    const client = clientFor(server.baseUrl, { retries: 1 });
    const completions = await Promise.all(Array.from({ length: 40 }, () => client.complete(MESSAGES)));
    expect(completions.every((c) => c.content === 'hello')).toBe(true);
    // Callers hold off together after a 429, so the 40 rows need far fewer than 40 × 30 requests.
    expect(server.requests()).toBeLessThan(40 + 30 + 40);
  });

  it('retries a request that times out', async () => {
    const llm = await simulatorWith({ timeToFirstTokenMs: 5_000 });
    const error = await failure(clientFor(llm.baseUrl, { timeoutMs: 200, retries: 1 }).complete(MESSAGES));
    expect(error.message).toMatch(/^LLM request failed after 2 attempts: no answer within 200 ms/);
    expect(llm.stats().requests).toBe(2);
  });

  it('retries connection errors and reports the last one', async () => {
    const llm = await simulatorWith();
    const baseUrl = llm.baseUrl;
    await llm.close();
    const error = await failure(clientFor(baseUrl, { retries: 1 }).complete(MESSAGES));
    expect(error.message).toMatch(/^LLM request failed after 2 attempts: .*ECONNREFUSED/);
    expect(error.retryable).toBe(true);
  });

  it('retries a stream that breaks off before it finishes', async () => {
    const server = await scriptedServer((n, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}\n\n');
      if (n === 0) {
        res.end();
        return;
      }
      res.end('data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
    });
    const completion = await clientFor(server.baseUrl, { stream: true }).complete(MESSAGES);
    expect(completion).toMatchObject({ content: 'Hello', attempts: 2 });
  });

  it('estimates tokens from characters when a stream carries no usage', async () => {
    const server = await scriptedServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Split across writes and lines ending in CRLF, as some servers send them.
      res.write(
        ': keep-alive comment\r\n\r\ndata: {"model":"m1","choices":[{"delta":{"role":"assistant","content":"Hello"}',
      );
      res.end(
        ',"finish_reason":null}]}\r\n\r\ndata: {"choices":[{"delta":{"content":" world!!"},"finish_reason":"stop"}]}\r\n\r\ndata: [DONE]\r\n\r\n',
      );
    });
    const completion = await clientFor(server.baseUrl, { stream: true }).complete(MESSAGES);
    const promptChars = MESSAGES.reduce((sum, m) => sum + m.content.length, 0);
    expect(completion).toMatchObject({
      content: 'Hello world!!',
      model: 'm1',
      promptTokens: Math.ceil(promptChars / 4),
      completionTokens: 4,
    });
  });

  it('refuses to send once closed', async () => {
    const llm = await simulatorWith();
    const client = clientFor(llm.baseUrl);
    await client.close();
    const error = await failure(client.complete(MESSAGES));
    expect(error.retryable).toBe(false);
  });

  it('refuses invalid options, naming each field', () => {
    const error = (() => {
      try {
        new ChatClient({ baseUrl: 'not a url', model: 'm', timeoutMs: 0 });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).problems).toEqual([
      'baseUrl: must be a URL such as https://api.openai.com/v1 (got "not a url")',
      'timeoutMs: must be an integer >= 1 (got 0)',
    ]);
  });
});

describe('parseRetryAfterMs', () => {
  it('prefers retry-after-ms to Retry-After', () => {
    expect(parseRetryAfterMs({ 'retry-after-ms': '250', 'retry-after': '1' })).toBe(250);
  });

  it('reads Retry-After as seconds', () => {
    expect(parseRetryAfterMs({ 'retry-after': '2' })).toBe(2_000);
  });

  it('reads Retry-After as an HTTP date', () => {
    const nowMs = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfterMs({ 'retry-after': 'Wed, 21 Oct 2015 07:28:03 GMT' }, nowMs)).toBe(3_000);
  });

  it('ignores missing and unreadable values', () => {
    expect(parseRetryAfterMs({})).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after': 'soon', 'retry-after-ms': 'x' })).toBeUndefined();
  });
});
