import type { LogRecord } from '../src/container-info.js'

// The sink contract: a sink encodes a batch, sends it once and classifies the result. Batching,
// retries, backoff, concurrency and drop accounting belong to the runner (src/sink-runner.ts).
// send() never sleeps or retries, and turns every I/O result into an Outcome in one classify()
// at the bottom of its file; a throw is a bug (logged with its stack, then retried).
export type Outcome =
  | { readonly ok: true }
  | { readonly retry: string, readonly afterMs?: number }
  | { readonly drop: string }
  | { readonly partial: { readonly retry: readonly number[], readonly dropped: readonly { readonly index: number, readonly reason: string }[] } }

export interface Sink {
  readonly name: string
  send: (batch: readonly LogRecord[], signal: AbortSignal) => Promise<Outcome>
  close: () => Promise<void>
}
