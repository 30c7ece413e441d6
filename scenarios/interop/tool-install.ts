import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolInstallFailedError } from '../../errors.js';

/** An npm package that provides a command, installed on demand outside the project's dependencies. */
export interface ToolSpec {
  /** npm package name, e.g. `artillery`. */
  name: string;
  /** Exact version, e.g. `2.0.21`: the folder is per version, so two versions never mix. */
  version: string;
  /** The command the package installs, e.g. `artillery` (looked up in `node_modules/.bin`). */
  bin: string;
  /** Extra environment for `npm install`, e.g. `{ PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' }`. */
  env?: Record<string, string>;
  /** Folder that holds every tool; default `HEADROOM_TOOLS_DIR`, else `~/.cache/headroom/tools`. */
  toolsDir?: string;
  /** Longest wait for another process's install, and longest install; default 20 minutes. */
  timeoutMs?: number;
  /** Called with one line of npm's output at a time, for a progress display. */
  onOutput?: (line: string) => void;
}

/** Written once an install has finished, so a folder left by a killed install is never used. */
const DONE_FILE = '.headroom-installed.json';
const LOCK_POLL_MS = 500;

/** The folder that holds installed tools: `HEADROOM_TOOLS_DIR`, else `~/.cache/headroom/tools`. */
export function toolsDir(): string {
  return process.env.HEADROOM_TOOLS_DIR || path.join(os.homedir(), '.cache', 'headroom', 'tools');
}

/** Where `spec` is (or would be) installed, and the path of its command. */
export function toolPaths(spec: Pick<ToolSpec, 'name' | 'version' | 'bin' | 'toolsDir'>): {
  dir: string;
  bin: string;
} {
  // A scoped name (@scope/pkg) or a version that is a path (file:…) becomes one folder name.
  const folder = `${spec.name}@${spec.version}`.replace(/[/\\]/g, '+');
  const dir = path.join(spec.toolsDir ?? toolsDir(), folder);
  return { dir, bin: path.join(dir, 'node_modules', '.bin', spec.bin) };
}

/** True when `spec` is installed and complete (no install is started). */
export function isToolInstalled(spec: Pick<ToolSpec, 'name' | 'version' | 'bin' | 'toolsDir'>): boolean {
  const { dir, bin } = toolPaths(spec);
  return existsSync(path.join(dir, DONE_FILE)) && existsSync(bin);
}

/**
 * Returns the path of the tool's command, installing the package first if needed with
 * `npm install --prefix <dir> --no-audit --no-fund <name>@<version>` into a folder of its own
 * (never into the project's node_modules). Two processes never install at once: the first takes
 * a lock (a directory, created atomically, holding the owner's pid); the others wait for it and
 * then use its install. A lock whose owner has died is taken over.
 */
export async function ensureTool(spec: ToolSpec): Promise<string> {
  const { dir, bin } = toolPaths(spec);
  if (isToolInstalled(spec)) return bin;
  const timeoutMs = spec.timeoutMs ?? 20 * 60_000;
  const lock = `${dir}.lock`;
  try {
    await mkdir(path.dirname(dir), { recursive: true });
  } catch (err) {
    throw new ToolInstallFailedError(
      spec.name,
      `cannot create the tools folder ${path.dirname(dir)} (${(err as Error).message}); set HEADROOM_TOOLS_DIR to a writable folder`,
      { cause: err },
    );
  }
  await acquireLock(lock, spec, timeoutMs);
  try {
    // Another process may have installed it while this one waited for the lock.
    if (isToolInstalled(spec)) return bin;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await runNpmInstall(spec, dir, timeoutMs);
    if (!existsSync(bin)) {
      throw new ToolInstallFailedError(
        spec.name,
        `npm installed ${spec.name}@${spec.version} into ${dir} but it has no command "${spec.bin}" in node_modules/.bin; check the package and command names`,
      );
    }
    await writeFile(
      path.join(dir, DONE_FILE),
      `${JSON.stringify({ name: spec.name, version: spec.version, installedAt: new Date().toISOString() })}\n`,
    );
    return bin;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function acquireLock(lock: string, spec: ToolSpec, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(path.join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ToolInstallFailedError(
          spec.name,
          `cannot create the install lock ${lock} (${(err as Error).message}); set HEADROOM_TOOLS_DIR to a writable folder`,
          { cause: err },
        );
      }
    }
    if (await lockIsStale(lock)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ToolInstallFailedError(
        spec.name,
        `another process has been installing ${spec.name}@${spec.version} for over ${Math.round(timeoutMs / 60_000)} min (lock ${lock}); if no install is running, delete that folder`,
      );
    }
    await sleep(LOCK_POLL_MS);
  }
}

/** A lock is stale when its owner's pid is no longer alive (a lock without a pid yet is fresh). */
async function lockIsStale(lock: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(await readFile(path.join(lock, 'pid'), 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function runNpmInstall(spec: ToolSpec, dir: string, timeoutMs: number): Promise<void> {
  const args = ['install', '--prefix', dir, '--no-audit', '--no-fund', `${spec.name}@${spec.version}`];
  return new Promise((resolve, reject) => {
    // cwd is the tool folder, so the project's own package.json and .npmrc play no part.
    const child = spawn('npm', args, {
      cwd: dir,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        spec.onOutput?.(line);
        tail.push(line);
        if (tail.length > 15) tail.shift();
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const fail = (what: string, cause?: unknown) =>
      reject(
        new ToolInstallFailedError(
          spec.name,
          `installing ${spec.name}@${spec.version} into ${dir} failed: ${what}\n  npm ${args.join(' ')}\n  ${tail.join('\n  ')}\n` +
            `  fix: check the network, disk space and the version; set HEADROOM_TOOLS_DIR to use another folder`,
          cause === undefined ? undefined : { cause },
        ),
      );
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'npm is not on PATH' : (err as Error).message,
        err,
      );
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        fail(
          signal
            ? `npm was stopped (${signal}) after ${Math.round(timeoutMs / 1000)} s or by a signal`
            : `npm exited with code ${code}`,
        );
    });
  });
}
