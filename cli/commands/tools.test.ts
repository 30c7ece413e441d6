import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ARTILLERY_TOOL } from '../../scenarios/interop/artillery-driver.js';
import { toolPaths } from '../../scenarios/interop/tool-install.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

let dir: string;
let saved: string | undefined;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'headroom-tools-cmd-'));
  saved = process.env.HEADROOM_TOOLS_DIR;
  process.env.HEADROOM_TOOLS_DIR = dir;
});
afterEach(async () => {
  if (saved === undefined) delete process.env.HEADROOM_TOOLS_DIR;
  else process.env.HEADROOM_TOOLS_DIR = saved;
  await rm(dir, { recursive: true, force: true });
});

it('lists every tool with its version, its state and the folder HEADROOM_TOOLS_DIR gives', async () => {
  const io = capturedIo();
  expect(await main(['tools', 'list'], io)).toBe(0);
  expect(io.out).toMatch(/^artillery\s+artillery@2\.0\.21 {2}not installed {2}/m);
  expect(io.out).toMatch(/^clinic\s+clinic@13\.0\.0 {2}not installed {2}/m);
  expect(io.out).toContain(path.join(dir, 'artillery@2.0.21'));
});

it('leaves a finished install alone and says where it is', async () => {
  // A finished install is a command in node_modules/.bin and the marker the installer writes last.
  const { dir: toolDir, bin } = toolPaths(ARTILLERY_TOOL);
  await mkdir(path.dirname(bin), { recursive: true });
  await writeFile(bin, '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(path.join(toolDir, '.headroom-installed.json'), '{}\n');
  const io = capturedIo();
  expect(await main(['tools', 'install', 'artillery'], io)).toBe(0);
  expect(io.out).toBe(`artillery@2.0.21 already installed in ${toolDir}\n`);
  const list = capturedIo();
  await main(['tools', 'list'], list);
  expect(list.out).toMatch(/^artillery\s+artillery@2\.0\.21 {2}installed {2}/m);
});

it('refuses an unknown tool, naming the choices, before installing anything', async () => {
  const io = capturedIo();
  expect(await main(['tools', 'install', 'clinic', 'jmeter'], io)).toBe(2);
  expect(io.err).toContain('unknown tool "jmeter"; choose from artillery, clinic');
  expect(io.out).toBe('');
});

it('refuses a timeout that is not a positive number of seconds', async () => {
  const io = capturedIo();
  expect(await main(['tools', 'install', 'artillery', '--timeout', 'soon'], io)).toBe(2);
  expect(io.err).toContain('--timeout: must be a number of seconds > 0 (got "soon")');
});
