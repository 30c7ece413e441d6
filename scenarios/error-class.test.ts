import { describe, expect, it } from 'vitest';
import { classifyError, classifyStatus } from './error-class.js';

function coded(code: string, cause?: unknown): Error {
  return Object.assign(new Error(code, { cause }), { code });
}

describe('error classes', () => {
  it('groups failing statuses by class and lets 1xx–3xx through', () => {
    expect([200, 204, 301, 404, 429, 500, 503].map(classifyStatus)).toEqual([
      undefined,
      undefined,
      undefined,
      'http_4xx',
      'http_4xx',
      'http_5xx',
      'http_5xx',
    ]);
  });

  it('names transport failures by what the user would fix', () => {
    expect(classifyError(coded('ECONNREFUSED'))).toBe('connection_refused');
    expect(classifyError(coded('UND_ERR_HEADERS_TIMEOUT'))).toBe('timeout');
    expect(classifyError(coded('UND_ERR_CONNECT_TIMEOUT'))).toBe('timeout');
    expect(classifyError(coded('ECONNRESET'))).toBe('connection_reset');
    expect(classifyError(coded('UND_ERR_SOCKET'))).toBe('connection_reset');
    expect(classifyError(new Error('something else'))).toBe('other');
    expect(classifyError('not an error')).toBe('other');
  });

  it('looks through wrappers to the error that explains them', () => {
    expect(classifyError(new Error('fetch failed', { cause: coded('ECONNREFUSED') }))).toBe(
      'connection_refused',
    );
    expect(classifyError(coded('UND_ERR_SOCKET', coded('ETIMEDOUT')))).toBe('timeout');
  });
});
