import type { Logger } from 'pino'
import type { AnySpec, Options } from '../src/options/schema.js'
import type { ContainerMeta, LogRecord } from '../src/record.js'

// The sink contract: a sink encodes a batch, sends it and classifies the result. Batching,
// retries, backoff, concurrency and drop accounting belong to the delivery engine
// (src/delivery/). send() never sleeps or retries, and turns every I/O result into an Outcome
// in one classify() at the bottom of its file; a throw is a bug (logged with its stack, then
// retried).
export type Outcome =
  | { readonly ok: true }
  | { readonly retry: string, readonly afterMs?: number }
  | { readonly drop: string }
  // The batch is larger than the backend takes (HTTP 413, Kafka's message.max.bytes): the engine
  // sends it again in halves, in order, and drops only a record too large by itself.
  | { readonly tooLarge: string }
  | { readonly partial: { readonly retry: readonly number[], readonly dropped: readonly { readonly index: number, readonly reason: string }[] } }

export interface Sink {
  readonly name: string
  send: (batch: readonly LogRecord[], signal: AbortSignal) => Promise<Outcome>
  close: () => Promise<void>
}

// How the engine cuts and paces one sink's batches for one container.
export interface BatchLimits {
  readonly maxRecords: number
  readonly maxBytes: number
  readonly timeoutMs: number
  readonly concurrency: number
}

// name → { options, batch defaults, open }. Adding a sink is one module and one line in
// sinks/registry.ts.
export interface SinkDefinition {
  // The value of `--log-opt sink=`.
  readonly name: string
  // Its log-opts are named `<prefix>-*` (es-url, kafka-topic, http-url).
  readonly prefix: string
  readonly options: readonly AnySpec[]
  readonly batchDefaults: { readonly maxRecords: number, readonly maxBytes: string, readonly timeoutMs: number, readonly concurrency: number }
  // Called at StartLogging, so it must not do network I/O: a backend that is down must never
  // refuse a container start. It throws a PluginError for options that cannot work (the user
  // reads it in `docker run`), and shares its clients per connection config.
  open: (options: Options, container: ContainerMeta, log: Logger) => Sink
  // Closes every shared client at plugin shutdown.
  closeAll: () => Promise<void>
}
