import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { capturedIo } from '../test-support/captured-io.js';
import { exportCommand } from './export.js';

describe('headroom export', () => {
  it('writes the script to --out atomically and says where', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-export-cli-'));
    try {
      const io = capturedIo();
      const out = path.join(dir, 'auth.py');
      const code = await exportCommand(['locust', 'auth', '--profile', 'full', '--out', out], io);
      expect(code).toBe(ExitCode.Pass);
      expect(await readFile(out, 'utf8')).toMatch(
        /^# locustfile for the headroom scenario "auth" \(profile full\)/,
      );
      expect(await readdir(dir)).toEqual(['auth.py']);
      expect(io.err).toBe(`wrote ${out} (locust, auth, full)\n`);
      expect(io.out).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints the script when there is no --out, aimed at --target', async () => {
    const io = capturedIo();
    await exportCommand(['artillery', 'api-stress', '--target', 'http://127.0.0.1:8123/api/v1'], io);
    expect(io.out).toContain('  target: "http://127.0.0.1:8123/api/v1"');
  });

  it('refuses an unknown tool and a target that is not a URL', async () => {
    await expect(exportCommand(['jmeter', 'auth'], capturedIo())).rejects.toThrow(UsageInvalidError);
    await expect(exportCommand(['k6', 'auth', '--target', 'nope'], capturedIo())).rejects.toThrow(
      /--target must be a URL/,
    );
  });
});
