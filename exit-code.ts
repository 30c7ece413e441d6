/** Process exit codes of the `headroom` command. A crash must never read as a failed threshold. */
export const ExitCode = {
  Pass: 0,
  ThresholdsFailed: 1,
  InputError: 2,
  Internal: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
