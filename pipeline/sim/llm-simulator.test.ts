import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError } from '../../errors.js';
import { type LlmSimulator, type LlmSimulatorOptions, startLlmSimulator } from './llm-simulator.js';

/** A fast simulator unless a test asks otherwise: tests must not wait the default 1.7 s. */
async function simulatorWith(opts: LlmSimulatorOptions = {}): Promise<LlmSimulator> {
  const llm = await startLlmSimulator({ timeToFirstTokenMs: 5, tokensPerSecond: 5_000, ...opts });
  onTestFinished(() => llm.close());
  return llm;
}

const PROMPT = [
  { role: 'system', content: 'You write short outreach messages.' },
  { role: 'user', content: 'Write an outreach message.\n\nCompany: Acme Roofing\nContact: Dana Smith\n' },
];

async function post(llm: LlmSimulator, body: unknown, headers: Record<string, string> = {}) {
  const response = await request(`${llm.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

interface Chunk {
  object: string;
  choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

function parseEvents(text: string): Array<Chunk | '[DONE]'> {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n\n')
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      const payload = event.slice(6);
      return payload === '[DONE]' ? '[DONE]' : (JSON.parse(payload) as Chunk);
    });
}

describe('startLlmSimulator', () => {
  it('answers a chat completion with content and usage', async () => {
    const llm = await simulatorWith({ tokensPerMessage: 100 });
    const { status, headers, text } = await post(llm, { model: 'any', messages: PROMPT });
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/json');
    const body = JSON.parse(text);
    expect(body).toMatchObject({ object: 'chat.completion', model: 'headroom-sim-1' });
    expect(body.id).toMatch(/^chatcmpl-/);
    const [choice] = body.choices;
    expect(choice.message.role).toBe('assistant');
    expect(choice.finish_reason).toBe('stop');
    const chars = PROMPT.reduce((sum, m) => sum + m.content.length, 0);
    expect(body.usage.prompt_tokens).toBe(Math.ceil(chars / 4));
    expect(body.usage.completion_tokens).toBeGreaterThanOrEqual(90);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(110);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    // One token per word: the message has as many words as completion tokens.
    expect(choice.message.content.split(/\s+/).length).toBe(body.usage.completion_tokens);
  });

  it('writes the same text for the same prompt and another for another prompt', async () => {
    const llm = await simulatorWith();
    const content = async (messages: unknown) =>
      JSON.parse((await post(llm, { messages })).text).choices[0].message.content;
    const first = await content(PROMPT);
    expect(await content(PROMPT)).toBe(first);
    const other = [PROMPT[0], { role: 'user', content: 'Company: Brightpath Dental\n' }];
    expect(await content(other)).not.toBe(first);
  });

  it('writes the same text from another simulator with the same seed', async () => {
    const a = await simulatorWith({ seed: 3 });
    const b = await simulatorWith({ seed: 3 });
    expect(JSON.parse((await post(b, { messages: PROMPT })).text).choices[0].message.content).toBe(
      JSON.parse((await post(a, { messages: PROMPT })).text).choices[0].message.content,
    );
  });

  it('names the company and the contact found in the prompt', async () => {
    const llm = await simulatorWith({ tokensPerMessage: 60 });
    const content: string = JSON.parse((await post(llm, { messages: PROMPT })).text).choices[0].message
      .content;
    expect(content).toMatch(/^(Hi|Hello|Dear|Good morning) Dana Smith,/);
    expect(content).toContain('Acme Roofing');
  });

  it('streams chunks that add up to the same text, with usage when asked', async () => {
    const llm = await simulatorWith({ tokensPerSecond: 200, tokensPerMessage: 60 });
    const plain = JSON.parse((await post(llm, { messages: PROMPT })).text);
    const { status, headers, text } = await post(llm, {
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const events = parseEvents(text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as Chunk[];
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    // At 200 tokens/s, 60 tokens take 0.3 s: several ticks, not one write per token.
    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(contentChunks.length).toBeGreaterThan(1);
    expect(contentChunks.length).toBeLessThan(30);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      plain.choices[0].message.content,
    );
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual(plain.usage);
  });

  it('streams without a usage chunk when not asked for one', async () => {
    const llm = await simulatorWith();
    const events = parseEvents((await post(llm, { messages: PROMPT, stream: true })).text);
    const chunks = events.slice(0, -1) as Chunk[];
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const llm = await simulatorWith();
    const body = JSON.parse((await post(llm, { messages: PROMPT, max_tokens: 7 })).text);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(7);
  });

  it('answers 400 with an OpenAI-style error to invalid JSON', async () => {
    const llm = await simulatorWith();
    const { status, text } = await post(llm, '{"messages": [');
    expect(status).toBe(400);
    expect(JSON.parse(text).error).toMatchObject({ type: 'invalid_request_error', code: null });
    expect(llm.stats().badRequests).toBe(1);
  });

  it('answers 400 naming the field when messages are missing or malformed', async () => {
    const llm = await simulatorWith();
    const missing = await post(llm, { model: 'x' });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text).error.param).toBe('messages');
    const malformed = await post(llm, {
      messages: [{ role: 'user', content: 'hi' }, { content: 'no role' }],
    });
    expect(JSON.parse(malformed.text).error.param).toBe('messages.1');
  });

  it('accepts an Authorization header without requiring one', async () => {
    const llm = await simulatorWith();
    expect((await post(llm, { messages: PROMPT }, { authorization: 'Bearer sk-test' })).status).toBe(200);
    expect((await post(llm, { messages: PROMPT })).status).toBe(200);
  });

  it('lists its model at /v1/models', async () => {
    const llm = await simulatorWith({ model: 'sim-x' });
    const response = await request(`${llm.baseUrl}/models`);
    const body = (await response.body.json()) as { data: Array<{ id: string }> };
    expect(body.data.map((m) => m.id)).toEqual(['sim-x']);
  });

  it('enforces requests per minute with 429, Retry-After and x-ratelimit headers', async () => {
    const llm = await simulatorWith({ rateLimit: { requestsPerMinute: 3 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post(llm, { messages: PROMPT }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]!.headers['x-ratelimit-limit-requests']).toBe('3');
    expect(answers[0]!.headers['x-ratelimit-remaining-requests']).toBe('2');
    const refused = answers[3]!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after-ms'])).toBeGreaterThan(0);
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(JSON.parse(refused.text).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(llm.stats()).toMatchObject({ completed: 3, rateLimited: 1 });
  });

  it('enforces tokens per minute, counting prompt and completion tokens', async () => {
    const llm = await simulatorWith({ tokensPerMessage: 100, rateLimit: { tokensPerMinute: 250 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(llm, { messages: PROMPT })).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(llm.stats().rateLimited).toBe(1);
  });

  it('injects 500s at the configured error rate', async () => {
    const llm = await simulatorWith({ errorRate: 1 });
    const { status, text } = await post(llm, { messages: PROMPT });
    expect(status).toBe(500);
    expect(JSON.parse(text).error.type).toBe('server_error');
    expect(llm.stats()).toMatchObject({ injectedErrors: 1, completed: 0 });
  });

  it('injects 429s with a short Retry-After at the configured rate', async () => {
    const llm = await simulatorWith({ rateLimitRate: 0.5 });
    const statuses = [];
    for (let i = 0; i < 200; i++) statuses.push((await post(llm, { messages: PROMPT })).status);
    const refused = statuses.filter((s) => s === 429).length;
    expect(refused).toBeGreaterThan(70);
    expect(refused).toBeLessThan(130);
    expect(llm.stats()).toMatchObject({ injectedRateLimits: refused, completed: 200 - refused });
  });

  it('counts a stream whose client went away as aborted', async () => {
    const llm = await simulatorWith({ tokensPerSecond: 10, tokensPerMessage: 100 });
    const response = await request(`${llm.baseUrl}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ messages: PROMPT, stream: true }),
    });
    for await (const _ of response.body) break;
    while (llm.stats().aborted === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(llm.stats()).toMatchObject({ aborted: 1, inFlight: 0, completed: 0 });
  });

  it('refuses invalid options, naming each field', async () => {
    const error = await startLlmSimulator({ tokensPerSecond: 0, errorRate: 2 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).problems).toEqual([
      'tokensPerSecond: must be > 0 (got 0)',
      'errorRate: must be in 0..1 (got 2)',
    ]);
  });
});
