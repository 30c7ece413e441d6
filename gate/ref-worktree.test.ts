import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UsageInvalidError } from '../errors.js';
import { buildRefWorktree } from './ref-worktree.js';

const repoDir = fileURLToPath(new URL('..', import.meta.url));

describe('ref worktree', () => {
  it('builds HEAD in a temporary worktree with the head’s node_modules linked, and removes it', async () => {
    const worktree = await buildRefWorktree('HEAD', { repoDir });
    try {
      expect(worktree.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(worktree.install).toBe('linked');
      expect((await lstat(`${worktree.dir}/node_modules`)).isSymbolicLink()).toBe(true);
      expect(existsSync(fileURLToPath(worktree.cliEntry))).toBe(true);
    } finally {
      await worktree.close();
    }
    expect(existsSync(worktree.dir)).toBe(false);
    const { stdout } = await promisify(execFile)('git', ['worktree', 'list'], { cwd: repoDir });
    expect(stdout).not.toContain(worktree.dir);
  });

  it('refuses a ref that names no commit, saying how CI should check out', async () => {
    const err = await buildRefWorktree('refs/heads/no-such-branch-for-headroom', { repoDir }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageInvalidError);
    expect((err as Error).message).toContain('fetch-depth: 0');
  });
});
