import { describe, expect, it } from 'vitest';
import { CompiledStep } from './flow-step.js';

describe('CompiledStep', () => {
  it('fills captured values into the path, headers and JSON body', () => {
    const step = new CompiledStep(
      {
        name: 'update',
        method: 'PUT',
        path: '/users/${id}',
        headers: { authorization: 'Bearer ${token}' },
        json: { owner: '${id}', note: 'fixed' },
      },
      '/api',
    );
    const vars = { id: '42', token: 'abc.def' };
    expect(step.pathFor(vars)).toBe('/api/users/42');
    expect(step.headersFor(vars)).toEqual([
      'authorization',
      'Bearer abc.def',
      'content-type',
      'application/json',
    ]);
    expect(JSON.parse(String(step.bodyFor(vars)))).toEqual({ owner: '42', note: 'fixed' });
    expect(step.isConstant).toBe(false);
  });

  it('escapes a captured value inside a JSON string and inside a path segment', () => {
    const step = new CompiledStep({ name: 's', method: 'POST', path: '/q/${v}', json: { text: '${v}' } }, '');
    const vars = { v: 'say "hi"/\\' };
    expect(JSON.parse(String(step.bodyFor(vars)))).toEqual({ text: 'say "hi"/\\' });
    expect(step.pathFor(vars)).toBe(`/q/${encodeURIComponent('say "hi"/\\')}`);
  });

  it('builds a step without variables once and reuses the same headers and body', () => {
    const step = new CompiledStep({ name: 's', method: 'POST', path: '/x', json: { a: 1 } }, '');
    expect(step.isConstant).toBe(true);
    expect(step.headersFor({})).toBe(step.headersFor({}));
    expect(step.bodyFor({})).toBe(step.bodyFor({}));
  });

  it('captures values by JSON path, including array indexes and non-string values', () => {
    const step = new CompiledStep(
      {
        name: 'login',
        method: 'POST',
        path: '/login',
        capture: { token: '$.data.accessToken', first: '$.items[1].id', count: 'meta.count' },
      },
      '',
    );
    const vars: Record<string, string> = {};
    const body = JSON.stringify({
      data: { accessToken: 't-1' },
      items: [{ id: 'a' }, { id: 7 }],
      meta: { count: 3 },
    });
    expect(step.capture(body, vars)).toBeUndefined();
    expect(vars).toEqual({ token: 't-1', first: '7', count: '3' });
  });

  it('names the JSON path that found nothing, or the first one when the body is not JSON', () => {
    const step = new CompiledStep(
      { name: 'login', method: 'POST', path: '/login', capture: { token: '$.accessToken', id: '$.user.id' } },
      '',
    );
    expect(step.capture('{"accessToken":"t"}', {})).toBe('$.user.id');
    expect(step.capture('<html>', {})).toBe('$.accessToken');
  });

  it('refuses a capture path it cannot read', () => {
    expect(
      () => new CompiledStep({ name: 's', method: 'GET', path: '/', capture: { t: '$..token' } }, ''),
    ).toThrow(/JSON path/);
  });
});
