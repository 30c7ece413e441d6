import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolInstallFailedError } from '../../errors.js';
import { ensureTool, isToolInstalled, toolPaths } from './tool-install.js';

/**
 * A local npm package (a folder with package.json and a bin) stands in for a registry package:
 * `npm install --prefix dir <folder>` does not go to the network, so the test is fast and offline.
 */
async function localPackage(dir: string, name: string): Promise<string> {
  const pkg = path.join(dir, `${name}-src`);
  await mkdir(pkg, { recursive: true });
  await writeFile(
    path.join(pkg, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', bin: { [name]: 'cli.js' } }),
  );
  await writeFile(path.join(pkg, 'cli.js'), '#!/usr/bin/env node\nconsole.log("ok");\n');
  return pkg;
}

describe('ensureTool', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-tools-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('installs a package into its own folder once and returns the path of its command', async () => {
    const source = await localPackage(dir, 'hr-fake-tool');
    // npm installs `<name>@<spec>`; a folder path is a valid spec for a local package.
    const spec = {
      name: 'hr-fake-tool',
      version: source,
      bin: 'hr-fake-tool',
      toolsDir: path.join(dir, 'tools'),
    };
    const bin = await ensureTool({ ...spec, version: `file:${source}` });
    expect(bin).toBe(toolPaths({ ...spec, version: `file:${source}` }).bin);
    expect(await readFile(bin, 'utf8')).toContain('console.log("ok")');
    expect(isToolInstalled({ ...spec, version: `file:${source}` })).toBe(true);
    // A second call finds it installed and does not run npm again (the marker is not rewritten).
    const marker = path.join(path.dirname(path.dirname(path.dirname(bin))), '.headroom-installed.json');
    const before = await readFile(marker, 'utf8');
    await ensureTool({ ...spec, version: `file:${source}` });
    expect(await readFile(marker, 'utf8')).toBe(before);
  });

  it('lets two concurrent callers share one install through the lock', async () => {
    const source = await localPackage(dir, 'hr-fake-tool');
    const spec = {
      name: 'hr-fake-tool',
      version: `file:${source}`,
      bin: 'hr-fake-tool',
      toolsDir: path.join(dir, 'tools'),
    };
    const [a, b] = await Promise.all([ensureTool(spec), ensureTool(spec)]);
    expect(a).toBe(b);
    expect(isToolInstalled(spec)).toBe(true);
  });

  it('takes over a lock left by a process that has died', async () => {
    const source = await localPackage(dir, 'hr-fake-tool');
    const spec = {
      name: 'hr-fake-tool',
      version: `file:${source}`,
      bin: 'hr-fake-tool',
      toolsDir: path.join(dir, 'tools'),
    };
    const lock = `${toolPaths(spec).dir}.lock`;
    await mkdir(lock, { recursive: true });
    // A pid far above any live one on this machine.
    await writeFile(path.join(lock, 'pid'), '4194000');
    await expect(ensureTool({ ...spec, timeoutMs: 60_000 })).resolves.toBe(toolPaths(spec).bin);
  });

  it('names the tool, the folder and the fix when npm fails', async () => {
    const spec = {
      name: 'hr-fake-tool',
      version: `file:${path.join(dir, 'no-such-package.tgz')}`,
      bin: 'hr-fake-tool',
      toolsDir: path.join(dir, 'tools'),
    };
    const failure = ensureTool(spec);
    await expect(failure).rejects.toBeInstanceOf(ToolInstallFailedError);
    await expect(failure).rejects.toThrow(
      /installing hr-fake-tool@.* into .*tools.* failed: npm exited with code \d+/,
    );
    await expect(failure).rejects.toThrow(/fix: .*HEADROOM_TOOLS_DIR/);
    expect(isToolInstalled(spec)).toBe(false);
  });
});
