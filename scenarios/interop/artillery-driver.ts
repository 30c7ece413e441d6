import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolRunFailedError } from '../../errors.js';
import { describeHost } from '../../results/host-description.js';
import type { RunResult } from '../../results/run-result.js';
import type { SetupUser } from '../scenario-setup.js';
import { exportArtillery } from './artillery-export.js';
import { importArtilleryReport } from './artillery-import.js';
import type { ExportPlan } from './export-plan.js';
import { ensureTool } from './tool-install.js';

/** Artillery 2.0.21 is the last release that runs on Node 20. */
export const ARTILLERY_TOOL = {
  name: 'artillery',
  version: '2.0.21',
  bin: 'artillery',
  // Its install aborts while downloading browsers for its Playwright engine, which HTTP tests do not use.
  env: { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
} as const;

/**
 * After writing its report, Artillery 2.0.21 stays alive ~12 s (a telemetry call to a host it
 * cannot reach; ARTILLERY_DISABLE_TELEMETRY does not shorten it). Once the report parses as a
 * whole, the process gets this long to exit by itself, then is stopped.
 */
const EXIT_GRACE_MS = 1_000;
const POLL_MS = 200;

export interface ArtilleryRunOptions {
  /** Folder for the script, the users' CSV and the report (kept: the report is Artillery's own output). */
  workDir: string;
  /** Setup users made by the runner; iteration k is user k mod n. */
  users: SetupUser[];
  signal?: AbortSignal;
  onOutput?: (line: string) => void;
  /** Longest run before the process is stopped; default the profile's duration + 120 s. */
  timeoutMs?: number;
}

/** A finished Artillery run: the converted result and the files Artillery read and wrote. */
export interface ArtilleryRun {
  result: RunResult;
  scriptFile: string;
  reportFile: string;
  /** Artillery's console output. */
  output: string;
}

/**
 * Runs `plan` with Artillery: exports the script (with the runner's setup users as its payload),
 * installs Artillery on demand (ensureTool), runs `artillery run --output report.json`, stops
 * it once the report is complete, and imports the report into a RunResult.
 */
export async function runArtillery(plan: ExportPlan, opts: ArtilleryRunOptions): Promise<ArtilleryRun> {
  const bin = await ensureTool({ ...ARTILLERY_TOOL, onOutput: opts.onOutput });
  const usersCsv = path.join(opts.workDir, 'users.csv');
  const scriptFile = path.join(opts.workDir, `${plan.scenario.name}.artillery.yml`);
  const reportFile = path.join(opts.workDir, 'report.json');
  await writeFile(usersCsv, opts.users.map((u) => `${u.email},${u.password},${u.token}\n`).join(''));
  await writeFile(scriptFile, exportArtillery(plan, { usersCsv }));

  const child = spawn(bin, ['run', '--output', reportFile, scriptFile], {
    cwd: opts.workDir,
    env: { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    for (const line of text.split('\n')) if (line.trim()) opts.onOutput?.(line);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('exit', (code) => resolve({ code }));
    child.once('error', (error) => resolve({ code: null, error }));
  });
  let exit: { code: number | null; error?: Error } | undefined;
  void exited.then((e) => {
    exit = e;
  });
  const onAbort = () => child.kill('SIGTERM');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = opts.timeoutMs ?? plan.scenario.durationMs + 120_000;
  const deadline = Date.now() + timeoutMs;
  let report: unknown;
  try {
    for (;;) {
      report = await readCompleteReport(reportFile);
      if (report !== undefined || exit) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new ToolRunFailedError(
          'artillery',
          `Artillery wrote no report within ${Math.round(timeoutMs / 1000)} s:\n${tail(output)}`,
        );
      }
      await sleep(POLL_MS);
    }
    if (report !== undefined && !exit) {
      // The report is complete; what remains is the telemetry wait (see EXIT_GRACE_MS).
      await Promise.race([exited, sleep(EXIT_GRACE_MS)]);
      if (!exit) {
        child.kill('SIGTERM');
        await exited;
      }
    }
    report ??= await readCompleteReport(reportFile);
    if (report === undefined) {
      const why = exit?.error
        ? `it could not start (${exit.error.message})`
        : `it exited with code ${exit?.code} without a report`;
      throw new ToolRunFailedError('artillery', `Artillery failed: ${why}:\n${tail(output)}`);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const result = importArtilleryReport(report, reportFile, {
    scenario: plan.scenario.name,
    profile: plan.scenario.profile,
    target: plan.target,
    stepOrder: plan.flow.map((s) => s.name),
    // The tool ran on this machine, beside headroom.
    host: describeHost(),
  });
  return { result, scriptFile, reportFile, output };
}

/** The report once Artillery has written all of it (it parses and has its aggregate), else undefined. */
async function readCompleteReport(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const data = JSON.parse(text) as { aggregate?: unknown };
    return data && typeof data === 'object' && data.aggregate ? data : undefined;
  } catch {
    return undefined;
  }
}

function tail(output: string, lines = 20): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}
