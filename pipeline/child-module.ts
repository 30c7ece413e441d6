import { type ChildProcess, type ForkOptions, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Forks the module at `url` (a `.js` URL built with `new URL('./x.js', import.meta.url)`) in a
 * new Node process with an IPC channel. From compiled output the `.js` file exists and is forked
 * as is; from TypeScript sources (vitest, tsx) only the `.ts` sibling exists, and it is forked
 * with tsx's loader. `execArgv` defaults to none rather than the parent's, so a parent's
 * `--inspect` or test-runner flags do not leak into the child.
 */
export function forkModule(url: URL, args: readonly string[] = [], options: ForkOptions = {}): ChildProcess {
  const jsPath = fileURLToPath(url);
  const execArgv = options.execArgv ?? [];
  if (existsSync(jsPath)) return fork(jsPath, args, { ...options, execArgv });
  const tsPath = jsPath.replace(/\.js$/, '.ts');
  if (tsPath !== jsPath && existsSync(tsPath)) {
    return fork(tsPath, args, { ...options, execArgv: ['--import', tsxLoaderUrl(tsPath), ...execArgv] });
  }
  throw new Error(`cannot start a child process: neither ${jsPath} nor ${tsPath} exists`);
}

function tsxLoaderUrl(tsPath: string): string {
  try {
    // An absolute URL: `--import tsx` alone would be resolved from the child's working directory.
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch (err) {
    throw new Error(`cannot run ${tsPath} from sources: the tsx package is not installed (npm install)`, {
      cause: err,
    });
  }
}
