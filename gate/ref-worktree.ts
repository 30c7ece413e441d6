import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { UsageInvalidError } from '../errors.js';

/** A git ref checked out and built in a temporary worktree, ready to start its pipeline. */
export interface RefWorktree {
  ref: string;
  commit: string;
  dir: string;
  /** The worktree's compiled `headroom` CLI (dist/cli/bin.js). */
  cliEntry: URL;
  /** How node_modules was provided: a link to the head's (same lockfile) or `npm ci`. */
  install: 'linked' | 'npm ci';
  /** Removes the worktree; safe to call twice. */
  close(): Promise<void>;
}

const git = (cwd: string, args: string[]) => promisify(execFile)('git', args, { cwd, maxBuffer: 16 << 20 });

/** A git ref checked out (not built) in a temporary worktree. */
export interface RefCheckout {
  ref: string;
  commit: string;
  dir: string;
  /** The top folder of the repository it came from. */
  top: string;
  /** Removes the worktree; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Checks out `ref` into a temporary `git worktree` beside nothing the user owns (the system's temp
 * folder). `repoDir` is any folder inside the repository.
 */
export async function checkoutRef(
  ref: string,
  opts: { repoDir?: string; onProgress?: (line: string) => void } = {},
): Promise<RefCheckout> {
  const cwd = opts.repoDir ?? process.cwd();
  let top: string;
  let commit: string;
  try {
    top = (await git(cwd, ['rev-parse', '--show-toplevel'])).stdout.trim();
  } catch (err) {
    throw new UsageInvalidError(`--against needs a git checkout, and ${cwd} is not in one`, { cause: err });
  }
  try {
    commit = (await git(top, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).stdout.trim();
  } catch (err) {
    throw new UsageInvalidError(
      `--against ${ref}: no such commit in ${top} (in CI, check out with fetch-depth: 0 so that base branches exist)`,
      { cause: err },
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-base-'));
  let added = false;
  const close = async () => {
    if (added) {
      added = false;
      await git(top, ['worktree', 'remove', '--force', dir]).catch(() => undefined);
      await git(top, ['worktree', 'prune']).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    opts.onProgress?.(`checking out ${ref} (${commit.slice(0, 12)}) in ${dir}`);
    await git(top, ['worktree', 'add', '--detach', dir, commit]);
    added = true;
  } catch (err) {
    await close();
    throw err;
  }
  return { ref, commit, dir, top, close };
}

/**
 * Checks out `ref` (see checkoutRef), provides node_modules — a symbolic link to the head's when
 * both lockfiles are identical (no install, no network), else `npm ci` — and runs `npm run build`
 * there: headroom's own build, whose reference pipeline the gate then starts.
 */
export async function buildRefWorktree(
  ref: string,
  opts: { repoDir?: string; onProgress?: (line: string) => void } = {},
): Promise<RefWorktree> {
  const { commit, dir, top, close } = await checkoutRef(ref, opts);
  try {
    const sameLock = await sameFile(path.join(top, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    let install: RefWorktree['install'];
    if (sameLock && existsSync(path.join(top, 'node_modules'))) {
      await symlink(path.join(top, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      install = 'linked';
    } else {
      opts.onProgress?.(`npm ci in the ${ref} worktree (its lockfile differs)`);
      await run('npm', ['ci', '--no-audit', '--no-fund'], dir);
      install = 'npm ci';
    }
    opts.onProgress?.(`building ${ref}`);
    await run('npm', ['run', 'build'], dir);
    const bin = path.join(dir, 'dist', 'cli', 'bin.js');
    if (!existsSync(bin)) throw new Error(`the build of ${ref} wrote no ${bin}`);
    return { ref, commit, dir, cliEntry: pathToFileURL(bin), install, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([readFile(a), readFile(b)]);
    return x.equals(y);
  } catch {
    return false;
  }
}

/** Runs a command, keeping its output for the error when it fails. */
function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `${command} ${args.join(' ')} failed in ${cwd} (exit ${code}):\n${output.slice(-4000)}`,
            ),
          ),
    );
  });
}
