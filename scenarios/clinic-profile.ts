import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ToolRunFailedError, UsageInvalidError } from '../errors.js';
import { ensureTool } from './interop/tool-install.js';
import type { Scenario } from './load-scenario.js';
import { type RunScenarioOptions, runScenario, type ScenarioRun } from './run-scenario.js';

/** The Clinic.js tools: doctor (event loop, CPU, memory, handles), flame (CPU), heapprofiler (allocations). */
export const CLINIC_TOOLS = ['doctor', 'flame', 'heapprofiler'] as const;
export type ClinicTool = (typeof CLINIC_TOOLS)[number];

/** The Clinic.js release installed on demand: 13.0.0 installs and runs on Node 20. */
export const CLINIC_VERSION = '13.0.0';

/** Clinic.js, installed on first use into the tools folder (never a project dependency). */
export const CLINIC_TOOL = { name: 'clinic', version: CLINIC_VERSION, bin: 'clinic' } as const;

export interface ClinicProfileOptions {
  tool: ClinicTool;
  /** Folder for clinic's data and HTML report; default `.clinic` (clinic's own default). */
  destDir?: string;
  /** Extra `headroom pipeline start` flags, e.g. ['--inject-leak', '65536']. */
  targetArgs?: string[];
  /** The clinic command; default: installed on demand into the tools folder (ensureTool). */
  clinicBin?: string;
  /** Longest wait for the pipeline to start under clinic, and for clinic's analysis; default 120 s each. */
  timeoutMs?: number;
  onProgress?: RunScenarioOptions['onProgress'];
  /** Lines of clinic's own output (install, analysis), for a progress display. */
  onOutput?: (line: string) => void;
}

/** A profiled run: clinic's HTML report, and the scenario's run against the profiled pipeline. */
export interface ClinicProfile {
  htmlPath: string;
  run: ScenarioRun;
}

/**
 * Runs a scenario against the reference pipeline started by Clinic.js, then stops the pipeline
 * so clinic analyses its data and writes the HTML report.
 *
 * clinic starts the pipeline itself (`clinic <tool> --no-open --dest DIR -- node cli/bin.js
 * pipeline start --port 0`): it needs to own the process to inject its samplers. NO_INSIGHT=1
 * answers clinic's consent prompt, which would otherwise block forever without a TTY. The
 * pipeline is stopped the way clinic expects a user to (Ctrl-C): SIGINT to the process group,
 * which clinic ignores and the pipeline handles by draining and exiting; then clinic analyses.
 */
export async function runClinicProfile(
  scenario: Scenario,
  opts: ClinicProfileOptions,
): Promise<ClinicProfile> {
  if (scenario.type === 'database') {
    throw new UsageInvalidError(
      "the database scenario drives the store from the load generator's process, not the pipeline: profile another scenario",
    );
  }
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const clinic = opts.clinicBin ?? (await ensureTool({ ...CLINIC_TOOL, onOutput: opts.onOutput }));
  const destDir = path.resolve(opts.destDir ?? '.clinic');
  await mkdir(destDir, { recursive: true });
  const before = new Set(await readdir(destDir));
  const storeDir = await mkdtemp(path.join(os.tmpdir(), 'headroom-profile-'));
  const args = [
    opts.tool,
    '--no-open',
    '--dest',
    destDir,
    '--',
    process.execPath,
    ...pipelineCommand(),
    'pipeline',
    'start',
    '--port',
    '0',
    '--store',
    `sqlite:${path.join(storeDir, 'target.db')}`,
    ...(scenario.type === 'memory-leak' ? ['--admin'] : []),
    ...(opts.targetArgs ?? []),
  ];
  // A process group of its own, so SIGINT reaches clinic and the pipeline as a Ctrl-C would.
  // Through this Node, not the script's `#!/usr/bin/env node`, which may find another one.
  const child = spawn(process.execPath, [clinic, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_INSIGHT: '1' },
  });
  let output = '';
  const onData = (d: Buffer) => {
    output += d;
    for (const line of String(d).split('\n')) if (line.trim()) opts.onOutput?.(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  // 'close', not 'exit': the last lines (the report's path) may arrive after the exit.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  try {
    const apiUrl = await waitFor(
      () => /API on (http:\/\/\S+)/.exec(output)?.[1],
      exited,
      timeoutMs,
      () => `the pipeline did not start under clinic ${opts.tool} within ${timeoutMs / 1000} s`,
      () => output,
    );
    const run = await runScenario(scenario, { target: apiUrl, onProgress: opts.onProgress });
    signalGroup(child, 'SIGINT');
    const htmlFromOutput = await waitFor(
      () => /Generated HTML file is (\S+)/.exec(output)?.[1],
      exited,
      timeoutMs,
      () =>
        `clinic ${opts.tool} did not write its report within ${timeoutMs / 1000} s of the pipeline's stop`,
      () => output,
    );
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    const htmlPath = htmlFromOutput.startsWith('file:') ? fileURLToPath(htmlFromOutput) : htmlFromOutput;
    if (!existsSync(htmlPath)) {
      const created = (await readdir(destDir)).filter((f) => !before.has(f) && f.endsWith('.html'));
      throw new ToolRunFailedError(
        'clinic',
        `clinic reported ${htmlPath} but it is not there (new files: ${created.join(', ') || 'none'})`,
      );
    }
    return { htmlPath, run };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      signalGroup(child, 'SIGINT');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(storeDir, { recursive: true, force: true });
  }
}

/** How to start cli/bin: the compiled file, or from sources with tsx's loader (tests, tsx). */
function pipelineCommand(): string[] {
  const js = fileURLToPath(new URL('../cli/bin.js', import.meta.url));
  if (existsSync(js)) return [js];
  const ts = js.replace(/\.js$/, '.ts');
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, ts];
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // The group has already exited.
  }
}

/** Polls `probe` until it gives a value; fails when the process exits first or time runs out. */
async function waitFor<T>(
  probe: () => T | undefined,
  exited: Promise<number | null>,
  timeoutMs: number,
  timeoutMessage: () => string,
  output: () => string,
): Promise<T> {
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    const tail = output().trim().split('\n').slice(-15).join('\n  ');
    if (exitCode !== undefined)
      throw new ToolRunFailedError(
        'clinic',
        `clinic exited (code ${exitCode}) before it was done:\n  ${tail}`,
      );
    if (Date.now() > deadline) throw new ToolRunFailedError('clinic', `${timeoutMessage()}:\n  ${tail}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
