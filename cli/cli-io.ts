/** Where a command writes. Tests pass their own; main.ts passes the process's streams. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Live progress line; drawn only on a TTY, so piped output stays clean. */
  progress(line: string): void;
  /** Ends the progress line (before the final output). */
  endProgress(): void;
  isTty: boolean;
}

export function processIo(): CliIo {
  const isTty = Boolean(process.stderr.isTTY);
  let drawn = false;
  return {
    isTty,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    progress: (line) => {
      if (!isTty) return;
      process.stderr.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    endProgress: () => {
      if (drawn) process.stderr.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
