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
  HostProfileInvalid: 'HRM_HOST_PROFILE_INVALID',
  DeclaredCapacityInvalid: 'HRM_DECLARED_CAPACITY_INVALID',
  SampleUnusable: 'HRM_SAMPLE_UNUSABLE',
  SampleInvalid: 'HRM_SAMPLE_INVALID',
  HistoryInvalid: 'HRM_HISTORY_INVALID',
  BaselineCorrupt: 'HRM_BASELINE_CORRUPT',
  BaselineHostMismatch: 'HRM_BASELINE_HOST_MISMATCH',
  BaselineNotFound: 'HRM_BASELINE_NOT_FOUND',
  ToolInstallFailed: 'HRM_TOOL_INSTALL_FAILED',
  ToolRunFailed: 'HRM_TOOL_RUN_FAILED',
  ImportInvalid: 'HRM_IMPORT_INVALID',
  ProjectConfigInvalid: 'HRM_PROJECT_CONFIG_INVALID',
  ServiceNotReady: 'HRM_SERVICE_NOT_READY',
  ServiceBuildFailed: 'HRM_SERVICE_BUILD_FAILED',
  PrometheusUnreachable: 'HRM_PROMETHEUS_UNREACHABLE',
  TelemetryQueryFailed: 'HRM_TELEMETRY_QUERY_FAILED',
  TelemetryMissing: 'HRM_TELEMETRY_MISSING',
  TelemetryTooFew: 'HRM_TELEMETRY_TOO_FEW',
  TelemetryMappingInvalid: 'HRM_TELEMETRY_MAPPING_INVALID',
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

/** An external tool (Artillery, clinic, …) could not be installed on demand; the message says what failed and the fix. */
export class ToolInstallFailedError extends HeadroomError {
  readonly code = ErrorCode.ToolInstallFailed;
  constructor(
    readonly tool: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An external load tool (Artillery, Locust) failed or wrote no usable report. */
export class ToolRunFailedError extends HeadroomError {
  readonly code = ErrorCode.ToolRunFailed;
  override readonly exitCode = ExitCode.Internal;
  constructor(
    readonly tool: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Another tool's report (Artillery JSON, Locust CSV) cannot be turned into a run result; one line per problem. */
export class ImportInvalidError extends HeadroomError {
  readonly code = ErrorCode.ImportInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      problems.length === 1
        ? `${file} cannot be imported: ${problems[0]}`
        : `${file} cannot be imported:\n  ${problems.join('\n  ')}`,
    );
  }
}

/** A baseline file cannot be used: not JSON, another kind, a newer version, or invalid content. */
export class BaselineCorruptError extends HeadroomError {
  readonly code = ErrorCode.BaselineCorrupt;
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${problem}. Delete it or run "headroom baseline save" again.`, options);
  }
}

/** Two sets of trials measured on different hosts: their figures do not compare. */
export class BaselineHostMismatchError extends HeadroomError {
  readonly code = ErrorCode.BaselineHostMismatch;
  constructor(
    readonly baselineHost: string,
    readonly candidateHost: string,
  ) {
    super(
      `the baseline was measured on ${baselineHost} and this run on ${candidateHost}: figures from different hosts do not compare. ` +
        'Save a baseline on this host ("headroom baseline save"), compare with --against <git-ref>, or pass --force (every report then flags it)',
    );
  }
}

/**
 * No usable stored baseline for this scenario on this host: none at all, or one measured with
 * other load settings (`reason` says which).
 */
export class BaselineNotFoundError extends HeadroomError {
  readonly code = ErrorCode.BaselineNotFound;
  constructor(
    readonly scenario: string,
    readonly file: string,
    readonly createCommand: string,
    reason?: string,
  ) {
    super(
      `${reason ?? `no baseline of "${scenario}" for this host (looked for ${file})`}; create one with: ${createCommand}`,
    );
  }
}

/** A host profile file failed validation; one line per problem, each naming the field. */
export class HostProfileInvalidError extends HeadroomError {
  readonly code = ErrorCode.HostProfileInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`${file} is not a valid host profile:\n  ${problems.join('\n  ')}`, options);
  }
}

/** A declared-capacity file failed validation; one line per problem, each naming the field. */
export class DeclaredCapacityInvalidError extends HeadroomError {
  readonly code = ErrorCode.DeclaredCapacityInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`${file} is not a valid declared-capacity file:\n  ${problems.join('\n  ')}`, options);
  }
}

/** A pipeline sample lacks what the capacity model needs (a stage with no finished rows, no stages). */
export class SampleUnusableError extends HeadroomError {
  readonly code = ErrorCode.SampleUnusable;
  constructor(
    readonly source: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`${source} cannot feed the capacity model:\n  ${problems.join('\n  ')}`, options);
  }
}

/** A pipeline sample file cannot be read: not JSON, another kind, a newer version, or invalid content. */
export class SampleInvalidError extends HeadroomError {
  readonly code = ErrorCode.SampleInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(
      problems.length === 1
        ? `${file} is not a usable pipeline sample: ${problems[0]}`
        : `${file} is not a valid pipeline sample:\n  ${problems.join('\n  ')}`,
      options,
    );
  }
}

/** The history database cannot be used: not a SQLite file, or written by a newer headroom. */
export class HistoryInvalidError extends HeadroomError {
  readonly code = ErrorCode.HistoryInvalid;
  constructor(
    readonly file: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${file} is not a usable result history: ${problem}`, options);
  }
}

/** A project file (headroom.config.json) failed validation; one line per problem, each naming the field. */
export class ProjectConfigInvalidError extends HeadroomError {
  readonly code = ErrorCode.ProjectConfigInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} is not a valid headroom project file:\n  ${problems.join('\n  ')}`);
  }
}

/** The team's service exited or never answered its ready path with 2xx; the message ends with its last output lines. */
export class ServiceNotReadyError extends HeadroomError {
  readonly code = ErrorCode.ServiceNotReady;
  constructor(
    readonly label: string,
    readonly readyUrl: string,
    reason: string,
    readonly outputTail: string,
  ) {
    super(
      `the ${label} service never became ready: ${readyUrl} ${reason}. Its last output lines:\n${outputTail || '(no output)'}`,
    );
  }
}

/** The service's build command failed in a checkout; the message ends with its last output lines. */
export class ServiceBuildFailedError extends HeadroomError {
  readonly code = ErrorCode.ServiceBuildFailed;
  constructor(label: string, command: string, dir: string, exitCode: number | null, outputTail: string) {
    super(
      `the build of ${label} failed: "${command}" in ${dir} exited with ${exitCode}. Its last output lines:\n${outputTail || '(no output)'}`,
    );
  }
}

/** Prometheus did not answer its HTTP API (refused, timed out, not Prometheus). */
export class PrometheusUnreachableError extends HeadroomError {
  readonly code = ErrorCode.PrometheusUnreachable;
  constructor(
    readonly url: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `cannot read Prometheus at ${url}: ${reason}. Check that it runs and that --prometheus names its base URL (e.g. http://127.0.0.1:9090)`,
      options,
    );
  }
}

/** Prometheus refused a query (a PromQL error): the expression and its answer. */
export class TelemetryQueryFailedError extends HeadroomError {
  readonly code = ErrorCode.TelemetryQueryFailed;
  constructor(
    readonly query: string,
    reason: string,
  ) {
    super(`Prometheus refused the query ${query}: ${reason}`);
  }
}

/** A metric the preset or mapping needs is not in Prometheus. */
export class TelemetryMissingError extends HeadroomError {
  readonly code = ErrorCode.TelemetryMissing;
  constructor(
    readonly metrics: string[],
    readonly mapping: string,
    readonly figure: string,
  ) {
    super(
      `Prometheus has no series of ${metrics.join(', ')}, which ${mapping} reads for ${figure}. Check that the exporter runs and that Prometheus scrapes it (its targets page), or name your own metric in a mapping file (--mapping)`,
    );
  }
}

/** The window holds too few samples of a figure to say anything (the system idle, or just started). */
export class TelemetryTooFewError extends HeadroomError {
  readonly code = ErrorCode.TelemetryTooFew;
}

/** A telemetry mapping file failed validation; one line per problem, each naming the field. */
export class TelemetryMappingInvalidError extends HeadroomError {
  readonly code = ErrorCode.TelemetryMappingInvalid;
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`${file} is not a valid telemetry mapping:\n  ${problems.join('\n  ')}`, options);
  }
}
