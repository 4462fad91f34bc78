import type { Logger } from 'pino'
import type { LogRecord } from '../record.js'
import type { BatchLimits, Outcome, Sink } from '../../sinks/sink.js'
import type { DropCounter } from './drops.js'
import type { BoundedQueue } from './queue.js'

const BACKOFF_BASE_MS = 250
const BACKOFF_CAP_MS = 10_000

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

// Drives one sink for one container stream: cuts batches from the queue (by records, bytes or
// age), keeps up to `concurrency` in flight, retries with capped exponential backoff and full
// jitter (honouring a sink's Retry-After), and releases queue space only on a final outcome.
// Retryable failures are retried for as long as the plugin runs: the bounded queue, not a
// timer, decides when the container has to wait.
export class SinkRunner {
  readonly #sink: Sink
  readonly #queue: BoundedQueue<LogRecord>
  readonly #limits: BatchLimits
  readonly #log: Logger
  readonly #drops: DropCounter
  readonly #abort = new AbortController()
  readonly #inFlight = new Set<Promise<void>>()
  readonly done: Promise<void>

  constructor (sink: Sink, queue: BoundedQueue<LogRecord>, limits: BatchLimits, log: Logger, drops: DropCounter) {
    this.#sink = sink
    this.#queue = queue
    this.#limits = limits
    this.#log = log
    this.#drops = drops
    this.done = this.#run()
  }

  // Gives up on whatever is still undelivered (plugin shutdown after its grace period).
  abort (): void {
    this.#abort.abort()
  }

  async #run (): Promise<void> {
    const queue = this.#queue
    const { maxRecords, maxBytes, timeoutMs, concurrency } = this.#limits
    for (;;) {
      if (queue.length === 0) {
        if (queue.closed) break
        await queue.waitFor(1, 1, Infinity)
        continue
      }
      await queue.waitFor(maxRecords, maxBytes, Date.now() + timeoutMs)
      while (this.#inFlight.size >= concurrency) await Promise.race(this.#inFlight)
      const batch = queue.take(maxRecords, maxBytes)
      if (batch.items.length === 0) continue
      const delivery = this.#deliver(batch.items, batch.bytes).finally(() => this.#inFlight.delete(delivery))
      this.#inFlight.add(delivery)
    }
    await Promise.all(this.#inFlight)
  }

  async #deliver (batch: LogRecord[], bytes: number): Promise<void> {
    let pending: readonly LogRecord[] = batch
    let attempt = 0
    const signal = this.#abort.signal
    while (pending.length > 0 && !signal.aborted) {
      let outcome: Outcome
      try {
        outcome = await this.#sink.send(pending, signal)
      } catch (err) {
        this.#log.error({ code: 'LOGRELAY_ERR_SINK_BUG', err, sink: this.#sink.name }, 'sink threw instead of returning an outcome (a bug); retrying')
        outcome = { retry: 'sink threw' }
      }
      if ('ok' in outcome) {
        pending = []
        break
      }
      if ('drop' in outcome) {
        this.#dropped(outcome.drop, pending.length, pending[0])
        pending = []
        break
      }
      let afterMs: number | undefined
      if ('partial' in outcome) {
        for (const item of outcome.partial.dropped) this.#dropped(item.reason, 1, pending[item.index])
        pending = outcome.partial.retry.map((i) => pending[i]).filter((r): r is LogRecord => r !== undefined)
        if (pending.length === 0) break
        this.#log.warn({ sink: this.#sink.name, container: pending[0]?.container.id, records: pending.length, attempt }, 'some records will be retried')
      } else {
        afterMs = outcome.afterMs
        if (attempt === 0 || attempt % 10 === 0) this.#log.warn({ sink: this.#sink.name, container: pending[0]?.container.id, reason: outcome.retry, records: pending.length, attempt }, 'batch will be retried')
      }
      attempt++
      const backoff = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16))
      await sleep(Math.max(afterMs ?? 0, backoff), signal)
    }
    if (signal.aborted && pending.length > 0) this.#dropped('plugin shut down before delivery', pending.length, pending[0])
    this.#queue.release(batch.length, bytes)
  }

  #dropped (reason: string, count: number, sample: LogRecord | undefined): void {
    this.#drops.add(this.#sink.name, reason, count, { container: sample?.container.id })
  }
}
