import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolRunFailedError } from '../../errors.js';
import { describeHost } from '../../results/host-description.js';
import type { RunResult } from '../../results/run-result.js';
import type { SetupUser } from '../scenario-setup.js';
import type { ExportPlan } from './export-plan.js';
import { exportLocust } from './locust-export.js';
import { importLocustCsv } from './locust-import.js';

export interface LocustRunOptions {
  /** Folder for the locustfile, the users' file and the CSV files (kept: they are Locust's own output). */
  workDir: string;
  /** Setup users made by the runner; iteration k is user k mod n. */
  users: SetupUser[];
  /** The locust command; default `locust` on PATH (Debian's python3-locust, or pip's). */
  command?: string;
  signal?: AbortSignal;
  onOutput?: (line: string) => void;
  /** Longest run before the process is stopped; default the profile's duration + 120 s. */
  timeoutMs?: number;
}

/** A finished Locust run: the converted result and the files Locust read and wrote. */
export interface LocustRun {
  result: RunResult;
  locustfile: string;
  /** The `--csv` prefix: `<prefix>_stats.csv`, `<prefix>_stats_history.csv`, `<prefix>_failures.csv`. */
  csvPrefix: string;
  /** Locust's exit code: 0, or 1 when a request or a threshold failed. */
  exitCode: number;
  output: string;
}

/**
 * Runs `plan` with Locust: exports the locustfile (its LoadTestShape plays the phases), hands it
 * the runner's setup users through `HEADROOM_USERS_FILE`, runs
 * `locust -f F --headless --csv PREFIX --only-summary -H TARGET`, and imports the CSV files.
 */
export async function runLocust(plan: ExportPlan, opts: LocustRunOptions): Promise<LocustRun> {
  const locustfile = path.join(opts.workDir, `${plan.scenario.name}.locustfile.py`);
  const usersFile = path.join(opts.workDir, 'users.json');
  const csvPrefix = path.join(opts.workDir, plan.scenario.name);
  await writeFile(usersFile, JSON.stringify(opts.users));
  await writeFile(locustfile, exportLocust(plan));
  const command = opts.command ?? 'locust';
  const child = spawn(
    command,
    ['-f', locustfile, '--headless', '--csv', csvPrefix, '--only-summary', '-H', plan.target],
    {
      cwd: opts.workDir,
      env: { ...process.env, HEADROOM_USERS_FILE: usersFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    for (const line of text.split('\n')) if (line.trim()) opts.onOutput?.(line);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const onAbort = () => child.kill('SIGINT');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => child.kill('SIGINT'), opts.timeoutMs ?? plan.scenario.durationMs + 120_000);
  let exit: { code: number | null; error?: Error };
  try {
    exit = await new Promise((resolve) => {
      child.once('exit', (code) => resolve({ code }));
      child.once('error', (error) => resolve({ code: null, error }));
    });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const lastLines = output.trimEnd().split('\n').slice(-20).join('\n');
  if (exit.error) {
    const missing = (exit.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ToolRunFailedError(
      'locust',
      missing
        ? `"${command}" is not on PATH: install Locust (apt-get install python3-locust, or pip install locust)`
        : `Locust could not start: ${exit.error.message}`,
      { cause: exit.error },
    );
  }
  const read = (suffix: string) => readFile(`${csvPrefix}${suffix}`, 'utf8').catch(() => undefined);
  const [stats, history, failures] = await Promise.all([
    read('_stats.csv'),
    read('_stats_history.csv'),
    read('_failures.csv'),
  ]);
  // Exit code 1 is Locust's "a request failed" (or a threshold of the locustfile failed): a run.
  if (!stats || (exit.code !== 0 && exit.code !== 1))
    throw new ToolRunFailedError(
      'locust',
      `Locust exited with code ${exit.code}${stats ? '' : ' and wrote no stats CSV'}:\n${lastLines}`,
    );
  const result = importLocustCsv(
    { stats, ...(history ? { history } : {}), ...(failures ? { failures } : {}) },
    `${csvPrefix}_stats.csv`,
    {
      scenario: plan.scenario.name,
      profile: plan.scenario.profile,
      target: plan.target,
      stepOrder: plan.flow.map((s) => s.name),
      // The tool ran on this machine, beside headroom.
      host: describeHost(),
    },
  );
  return { result, locustfile, csvPrefix, exitCode: exit.code ?? 0, output };
}
