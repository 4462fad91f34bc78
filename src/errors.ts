// One registry of stable error codes. A code is never reused for another meaning, even after
// the error it named is gone: operators grep logs and issues for them.
export const ErrorCodes = {
  LOGRELAY_ERR_OPT_UNKNOWN: 'unknown log-opt',
  LOGRELAY_ERR_OPT_INVALID: 'invalid log-opt value',
  LOGRELAY_ERR_ENV_INVALID: 'invalid plugin setting',
  LOGRELAY_ERR_REQ_BODY: 'request body is not the JSON the daemon sends',
  LOGRELAY_ERR_REQ_FIELD: 'request lacks a required field',
  LOGRELAY_ERR_FIFO_OPEN: 'cannot open the log FIFO',
  LOGRELAY_ERR_FIFO_FRAME: 'corrupt frame in the log FIFO',
  LOGRELAY_ERR_STORE_IO: 'local store I/O failed',
  LOGRELAY_ERR_READ_TIME: 'invalid time in a ReadLogs request',
  LOGRELAY_ERR_SINK_BUG: 'a sink threw instead of returning an outcome',
  LOGRELAY_ERR_OPT_MISSING: 'a log-opt the chosen sink needs is not set',
  LOGRELAY_ERR_OPT_FILE: 'a file named by a log-opt cannot be read or is not in the expected form',
  LOGRELAY_ERR_METRICS_LISTEN: 'the metrics listener cannot listen on LOGRELAY_METRICS_ADDR',
  LOGRELAY_ERR_KAFKA_REFUSED: 'the Kafka brokers refuse the plugin: its credentials or rights, or a certificate either side shows',
} as const

export type ErrorCode = keyof typeof ErrorCodes

export class PluginError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PluginError'
    this.code = code
  }
}

export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
