import { ExitCode } from './exit-code.js';

/**
 * Stable error codes. A code is never renamed or reused; docs/errors.md lists each one once
 * (a test checks that).
 */
export const ErrorCode = {
  ConfigInvalid: 'HRM_CONFIG_INVALID',
  UsageInvalid: 'HRM_USAGE_INVALID',
  CsvInvalid: 'HRM_CSV_INVALID',
  CsvTooLarge: 'HRM_CSV_TOO_LARGE',
  StoreUnavailable: 'HRM_STORE_UNAVAILABLE',
  UserExists: 'HRM_USER_EXISTS',
  SsrfRefused: 'HRM_SSRF_REFUSED',
  RemoteTargetRefused: 'HRM_REMOTE_TARGET_REFUSED',
  LlmFailed: 'HRM_LLM_FAILED',
  QueueClosed: 'HRM_QUEUE_CLOSED',
  RequestInvalid: 'HRM_REQUEST_INVALID',
  Unauthorized: 'HRM_UNAUTHORIZED',
  NotFound: 'HRM_NOT_FOUND',
  RateLimited: 'HRM_RATE_LIMITED',
  Internal: 'HRM_INTERNAL',
  ScenarioInvalid: 'HRM_SCENARIO_INVALID',
  ScenarioNotFound: 'HRM_SCENARIO_NOT_FOUND',
  ResultInvalid: 'HRM_RESULT_INVALID',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error headroom raises on purpose. Anything else is a bug (exit code 3). */
export abstract class HeadroomError extends Error {
  abstract readonly code: ErrorCode;
  readonly exitCode: ExitCode = ExitCode.InputError;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value (file, flag or option object) failed validation. */
export class ConfigInvalidError extends HeadroomError {
  readonly code = ErrorCode.ConfigInvalid;
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not valid:\n  ${problems.join('\n  ')}`);
  }
}

/** The command line is wrong: unknown command, missing argument, bad flag value. */
export class UsageInvalidError extends HeadroomError {
  readonly code = ErrorCode.UsageInvalid;
}

/** The CSV as a whole cannot be used (empty, no header, no url column, not text). */
export class CsvInvalidError extends HeadroomError {
  readonly code = ErrorCode.CsvInvalid;
}

/** The upload is larger than the configured limit. */
export class CsvTooLargeError extends HeadroomError {
  readonly code = ErrorCode.CsvTooLarge;
  constructor(readonly limitBytes: number) {
    super(`the CSV is larger than the limit of ${limitBytes} bytes; split it or raise uploads.maxBytes`);
  }
}

/** The database cannot be reached or refused the operation; `cause` keeps the driver's error. */
export class StoreUnavailableError extends HeadroomError {
  readonly code = ErrorCode.StoreUnavailable;
  override readonly exitCode = ExitCode.Internal;
}

/** Registration with an e-mail address that already has an account. */
export class UserExistsError extends HeadroomError {
  readonly code = ErrorCode.UserExists;
  constructor(readonly email: string) {
    super(`a user with e-mail ${email} already exists; log in instead`);
  }
}

/** A scrape target resolved to an address the SSRF guard refuses. */
export class SsrfRefusedError extends HeadroomError {
  readonly code = ErrorCode.SsrfRefused;
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(
      `refused ${host}: it resolves to ${address}, a ${range} address; allowlist the host in scraper.allowHosts if it is yours`,
    );
  }
}

/** Load aimed at a non-loopback address without --allow-remote. */
export class RemoteTargetRefusedError extends HeadroomError {
  readonly code = ErrorCode.RemoteTargetRefused;
  constructor(readonly target: string) {
    super(`${target} is not a loopback address; pass --allow-remote to send load to it`);
  }
}

/** The LLM endpoint failed after all retries. */
export class LlmFailedError extends HeadroomError {
  readonly code = ErrorCode.LlmFailed;
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A job was enqueued after the queue engine was closed. */
export class QueueClosedError extends HeadroomError {
  readonly code = ErrorCode.QueueClosed;
  override readonly exitCode = ExitCode.Internal;
}

/** A scenario file failed validation; one line per problem, each naming the field. */
export class ScenarioInvalidError extends HeadroomError {
  readonly code = ErrorCode.ScenarioInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} is not a valid scenario:\n  ${problems.join('\n  ')}`);
  }
}

/** No scenario of that name in the library, and no such file. */
export class ScenarioNotFoundError extends HeadroomError {
  readonly code = ErrorCode.ScenarioNotFound;
  constructor(
    readonly scenario: string,
    readonly available: string[],
  ) {
    super(`no scenario "${scenario}": give a file path, or one of ${available.join(', ')}`);
  }
}

/** A result file cannot be read: not JSON, not a headroom result, a newer version, or invalid content. */
export class ResultInvalidError extends HeadroomError {
  readonly code = ErrorCode.ResultInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(
      problems.length === 1
        ? `${file} is not a usable run result: ${problems[0]}`
        : `${file} is not a valid run result:\n  ${problems.join('\n  ')}`,
      options,
    );
  }
}
