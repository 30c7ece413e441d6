import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import type { MessagePage, Task, UploadProgress } from '../store/store.js';

/** The answer to POST /uploads. */
export interface UploadReceipt {
  id: number;
  filename: string;
  rows: number;
  accepted: number;
  rejected: number;
  rejections: Array<{ line: number; reason: string }>;
  rejectionsTruncated: boolean;
  ingestMs: number;
}

/** A non-2xx answer of the API, with its status and error body. */
export class ApiResponseError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: { code: string; message: string } } | string,
  ) {
    super(
      `API answered ${status}: ${typeof body === 'string' ? body : (body.error?.message ?? JSON.stringify(body))}`,
    );
  }
}

/** A typed client of the reference pipeline's API, used by the demo, benchmarks and tests. */
export class ApiClient {
  private token?: string;
  private readonly dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

  constructor(readonly apiUrl: string) {}

  /** Uses a token obtained elsewhere (e.g. by a scenario's setup) for the calls that need one. */
  useToken(token: string): void {
    this.token = token;
  }

  async register(email: string, password: string): Promise<{ id: number; email: string }> {
    return this.call('POST', '/auth/register', { email, password });
  }

  async login(email: string, password: string): Promise<string> {
    const res = await this.call<{ accessToken: string }>('POST', '/auth/login', { email, password });
    this.token = res.accessToken;
    return res.accessToken;
  }

  /** Streams a CSV to POST /uploads as a text/csv body. */
  async upload(
    csv: Readable | AsyncIterable<Buffer> | string,
    filename = 'upload.csv',
  ): Promise<UploadReceipt> {
    return this.call('POST', `/uploads?filename=${encodeURIComponent(filename)}`, csv, 'text/csv');
  }

  async getUpload(id: number): Promise<UploadProgress> {
    return this.call('GET', `/uploads/${id}`);
  }

  async listMessages(id: number, limit = 1000, after?: number): Promise<MessagePage> {
    const query = after === undefined ? `limit=${limit}` : `limit=${limit}&after=${after}`;
    return this.call('GET', `/uploads/${id}/messages?${query}`);
  }

  async createTask(type: string, workMs: number): Promise<Task> {
    return this.call('POST', '/tasks', { type, workMs });
  }

  async getTask(id: number): Promise<Task> {
    return this.call('GET', `/tasks/${id}`);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** Sends one request; JSON in and out unless a content type is given for a streamed body. */
  async call<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | Readable | AsyncIterable<Buffer> | undefined;
    if (contentType) {
      headers['content-type'] = contentType;
      payload = body as string | Readable | AsyncIterable<Buffer>;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await request(`${this.apiUrl}${path}`, {
      method: method as 'GET',
      headers,
      body: payload as string,
      dispatcher: this.dispatcher,
      // Large uploads take as long as their ingest; the server bounds it by the size limit.
      headersTimeout: 600_000,
      bodyTimeout: 600_000,
    });
    const text = await res.body.text();
    const parsed = text && res.headers['content-type']?.toString().includes('json') ? JSON.parse(text) : text;
    if (res.statusCode >= 300) throw new ApiResponseError(res.statusCode, parsed);
    return parsed as T;
  }
}
