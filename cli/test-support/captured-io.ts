import type { CliIo } from '../cli-io.js';

/** A CliIo that keeps what a command printed, for tests that call `main()`. */
export function capturedIo(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTty: false,
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
    progress: () => {},
    endProgress: () => {},
  };
  return io;
}
