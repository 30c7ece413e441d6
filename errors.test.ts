import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SsrfRefusedError, UserExistsError } from './errors.js';
import { ExitCode } from './exit-code.js';

describe('error codes', () => {
  const doc = readFileSync(new URL('./docs/errors.md', import.meta.url), 'utf8');

  it('lists every error code exactly once in docs/errors.md', () => {
    for (const code of Object.values(ErrorCode)) {
      const rows = doc.split('\n').filter((line) => line.startsWith(`| \`${code}\``));
      expect(rows, code).toHaveLength(1);
    }
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `(HRM_[A-Z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('never reuses a code for two names', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('gives input errors exit code 2 and keeps the class name', () => {
    const err = new UserExistsError('a@b.c');
    expect(err.exitCode).toBe(ExitCode.InputError);
    expect(err.name).toBe('UserExistsError');
    expect(err.code).toBe('HRM_USER_EXISTS');
  });

  it('says how to fix an SSRF refusal', () => {
    expect(new SsrfRefusedError('x.test', '10.0.0.1', 'private').message).toMatch(/allowHosts/);
  });
});
