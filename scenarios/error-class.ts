/**
 * Why a request failed, as counted in results. HTTP statuses are grouped by class; transport
 * failures by what the user would fix (a closed port, a dropped connection, a slow answer).
 */
export type ErrorClass =
  | 'http_4xx'
  | 'http_5xx'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  /** A capture named by the step was not in the response. */
  | 'capture_missing'
  /** Still in flight when the run stopped (graceful stop over, aborted). */
  | 'interrupted'
  | 'other';

/** The error class of an HTTP status, or undefined when the status is a success (1xx–3xx). */
export function classifyStatus(statusCode: number): ErrorClass | undefined {
  if (statusCode >= 500) return 'http_5xx';
  if (statusCode >= 400) return 'http_4xx';
  return undefined;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * The error class of a transport error thrown by undici or node:net: its `code`, or the code
 * of the error it wraps (`cause`, or the first of an AggregateError's `errors`).
 */
export function classifyError(err: unknown): ErrorClass {
  let socketClosed = false;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') {
      if (TIMEOUT_CODES.has(code)) return 'timeout';
      if (code === 'ECONNREFUSED') return 'connection_refused';
      if (RESET_CODES.has(code)) return 'connection_reset';
      // undici's "other side closed": a reset, unless its cause says more.
      if (code === 'UND_ERR_SOCKET') socketClosed = true;
    }
    e = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return socketClosed ? 'connection_reset' : 'other';
}
