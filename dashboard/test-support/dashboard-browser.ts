import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { CliIo } from '../../cli/cli-io.js';
import { main } from '../../cli/main.js';
import type { ExitCode } from '../../exit-code.js';

const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests leave their screenshots (ignored by git). */
export const ARTIFACTS = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'test-artifacts',
);

/** The system's Chromium, headless; a missing one is a red test that says how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: apt-get install chromium (as root: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Opens a dashboard in a new page, collecting console errors and failed requests. */
export async function watch(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);
  return { page, problems };
}

/**
 * Runs a command in this process as `headroom` would, and gives the address it prints on stderr
 * as soon as it is printed, with the command's exit code to come.
 */
export function startCommand(argv: string[]): {
  url: Promise<string>;
  done: Promise<ExitCode>;
  io: CliIo & { err: string };
} {
  let found: (url: string) => void = () => {};
  const url = new Promise<string>((resolve) => {
    found = resolve;
  });
  const io = {
    err: '',
    isTty: false,
    stdout: () => {},
    stderr: (t: string) => {
      io.err += t;
      const m = /dashboard: (http:\/\/\S+)/.exec(io.err);
      if (m) found(m[1]!);
    },
    progress: () => {},
    endProgress: () => {},
  };
  const done = main(argv, io);
  // A command that fails before it serves the page must not leave the test waiting for an address.
  void done.then(() => found(''));
  return { url, done, io };
}
