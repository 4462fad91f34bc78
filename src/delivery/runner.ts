import type { Logger } from 'pino'
import type { StreamMarks } from '../events/event-stage.js'
import type { LogRecord } from '../record.js'
import type { BatchLimits, Outcome, Sink } from '../../sinks/sink.js'
import type { DropCounter } from './drops.js'
import type { BoundedQueue } from './queue.js'
import { SinkCounters, type DropReason, type ErrorClass, type RetryClass } from './stats.js'

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

// Drives one sink for one container: cuts batches from the queue (by records, bytes or age),
// keeps up to `concurrency` in flight, retries with capped exponential backoff and full jitter
// (honouring a sink's Retry-After), splits a batch its backend finds too large, and says which
// records are final (delivered or dropped), in sequence order, so the sink's position can move
// on. Retryable failures are retried for as long as the plugin runs: the records wait on disk,
// and the backlog bound, not a timer, decides when the container has to wait.
export class SinkRunner {
  readonly #sink: Sink
  readonly #queue: BoundedQueue<LogRecord>
  readonly #limits: BatchLimits
  readonly #log: Logger
  readonly #drops: DropCounter
  readonly #abort = new AbortController()
  readonly #inFlight = new Set<Promise<void>>()
  readonly #settled: SettledRanges
  readonly #counters: SinkCounters
  // The first record of each batch in flight: the oldest of them is the oldest undelivered.
  readonly #inFlightFirst = new Set<LogRecord>()
  #lastError: { readonly reason: string, readonly at: number } | undefined
  readonly done: Promise<void>

  // `next` is the first sequence not yet final; `onAck` hears each time it moves on. Outcomes
  // are counted in `counters` (the runner's own unless the plugin's are given).
  constructor (sink: Sink, queue: BoundedQueue<LogRecord>, limits: BatchLimits, log: Logger, drops: DropCounter, next: number,
    onAck: (next: number, marks: StreamMarks) => void, counters = new SinkCounters(sink.name)) {
    this.#sink = sink
    this.#queue = queue
    this.#limits = limits
    this.#log = log
    this.#drops = drops
    this.#counters = counters
    this.#settled = new SettledRanges(next, onAck)
    this.done = this.#run()
  }

  get counters (): SinkCounters {
    return this.#counters
  }

  // What the backend last said when a batch was not delivered, for the status view.
  get lastError (): { readonly reason: string, readonly at: number } | undefined {
    return this.#lastError
  }

  // The oldest record sent and not yet final, if any is in flight.
  oldestInFlight (): LogRecord | undefined {
    let oldest: LogRecord | undefined
    for (const record of this.#inFlightFirst) if (oldest === undefined || record.sequence < oldest.sequence) oldest = record
    return oldest
  }

  // Records [from, to) will never reach the queue (given up under buffer-full=drop-oldest).
  giveUp (from: number, to: number): void {
    this.#settled.settle(from, to)
  }

  // Stops at once (plugin shutdown): what is not delivered stays on disk for the next start.
  abort (): void {
    this.#abort.abort()
  }

  async #run (): Promise<void> {
    const queue = this.#queue
    const { maxRecords, maxBytes, timeoutMs, concurrency } = this.#limits
    const signal = this.#abort.signal
    while (!signal.aborted) {
      if (queue.length === 0) {
        if (queue.closed) break
        await queue.waitFor(1, 1, Infinity)
        continue
      }
      await queue.waitFor(maxRecords, maxBytes, Date.now() + timeoutMs)
      while (this.#inFlight.size >= concurrency) await Promise.race(this.#inFlight)
      const batch = queue.take(maxRecords, maxBytes)
      if (batch.items.length === 0) continue
      const first = batch.items[0] as LogRecord
      this.#inFlightFirst.add(first)
      const delivery = this.#deliver(batch.items, batch.bytes).finally(() => {
        this.#inFlight.delete(delivery)
        this.#inFlightFirst.delete(first)
      })
      this.#inFlight.add(delivery)
    }
    await Promise.all(this.#inFlight)
  }

  async #deliver (batch: LogRecord[], bytes: number): Promise<void> {
    // The parts still to send, in order: a batch the backend finds too large is split in
    // halves, and the first half goes before the second.
    const parts: (readonly LogRecord[])[] = [batch]
    let attempt = 0
    const signal = this.#abort.signal
    while (parts.length > 0 && !signal.aborted) {
      const pending = parts[0] as readonly LogRecord[]
      let outcome: Outcome
      let threw = false
      const started = performance.now()
      try {
        outcome = await this.#sink.send(pending, signal)
      } catch (err) {
        this.#log.error({ code: 'LOGRELAY_ERR_SINK_BUG', err, sink: this.#sink.name }, 'sink threw instead of returning an outcome (a bug); retrying')
        outcome = { retry: 'sink threw' }
        threw = true
      }
      this.#counters.request((performance.now() - started) / 1000, pending.length)
      if ('ok' in outcome) {
        this.#delivered(pending)
        parts.shift()
        attempt = 0
        continue
      }
      if ('drop' in outcome) {
        this.#failed('refused', outcome.drop)
        this.#dropped('refused', outcome.drop, linesOf(pending), pending[0])
        parts.shift()
        continue
      }
      if ('tooLarge' in outcome) {
        this.#failed('too-large', outcome.tooLarge)
        if (pending.length === 1) {
          this.#dropped('too-large', `${outcome.tooLarge} (this one ${pending[0]?.event === undefined ? 'line' : 'event'} is larger than the endpoint accepts)`, linesOf(pending), pending[0])
          parts.shift()
        } else {
          this.#counters.retriedRecords['too-large'] += linesOf(pending)
          const half = Math.ceil(pending.length / 2)
          parts.splice(0, 1, pending.slice(0, half), pending.slice(half))
        }
        continue
      }
      let afterMs: number | undefined
      if ('partial' in outcome) {
        const reason = outcome.partial.dropped[0]?.reason ?? `the backend asked for ${outcome.partial.retry.length} of ${pending.length} records again`
        this.#failed('partial', reason)
        for (const item of outcome.partial.dropped) this.#dropped('record-refused', item.reason, pending[item.index]?.event?.lines ?? 1, pending[item.index])
        const retry = outcome.partial.retry.map((i) => pending[i]).filter((r): r is LogRecord => r !== undefined)
        const notDelivered = new Set([...outcome.partial.retry, ...outcome.partial.dropped.map((d) => d.index)])
        this.#delivered(pending.filter((_r, i) => !notDelivered.has(i)))
        if (retry.length === 0) {
          parts.shift()
          continue
        }
        this.#counters.retriedRecords.partial += linesOf(retry)
        parts[0] = retry
        this.#log.warn({ sink: this.#sink.name, container: retry[0]?.container.id, records: retry.length, attempt }, 'some records will be retried')
      } else {
        afterMs = outcome.afterMs
        const kind: RetryClass = threw ? 'sink-bug' : afterMs === undefined ? 'transient' : 'throttled'
        this.#failed(kind, outcome.retry)
        this.#counters.retriedRecords[kind] += linesOf(pending)
        if (attempt === 0 || attempt % 10 === 0) this.#log.warn({ sink: this.#sink.name, container: pending[0]?.container.id, reason: outcome.retry, records: pending.length, attempt }, 'batch will be retried')
      }
      attempt++
      const backoff = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16))
      await sleep(Math.max(afterMs ?? 0, backoff), signal)
    }
    this.#queue.release(batch.length, bytes)
    // Cut short by shutdown, the batch is not final: it is sent again after the restart.
    if (parts.length === 0) settle(this.#settled, batch)
  }

  // In stored lines, as they were handed: an event's newlines between its lines are not counted.
  #delivered (records: readonly LogRecord[]): void {
    let bytes = 0
    for (const record of records) bytes += record.line.length - (record.event === undefined ? 0 : record.event.lines - 1)
    this.#counters.deliveredRecords += linesOf(records)
    this.#counters.deliveredBytes += bytes
  }

  #failed (kind: ErrorClass, reason: string): void {
    this.#counters.backendErrors[kind]++
    this.#lastError = { reason, at: Date.now() }
  }

  #dropped (kind: DropReason, reason: string, count: number, sample: LogRecord | undefined): void {
    this.#drops.add(this.#counters, kind, reason, count, { container: sample?.container.id })
  }
}

// Deliveries, retries and drops are counted in stored lines, whether or not they were grouped
// into events, as lines handed to a sink are.
function linesOf (records: readonly LogRecord[]): number {
  let lines = 0
  for (const record of records) lines += record.event?.lines ?? 1
  return lines
}

// A batch is final: the stored lines it stands for are settled, and so, for events, are the
// streams' marks (see StreamMarks) up to its events' last lines.
function settle (settled: SettledRanges, batch: readonly LogRecord[]): void {
  const first = batch[0] as LogRecord
  const last = batch.at(-1) as LogRecord
  if (first.event === undefined || last.event === undefined) {
    settled.settle(first.sequence, last.sequence + 1)
    return
  }
  const marks: { stdout?: number, stderr?: number } = {}
  for (const record of batch) {
    const end = (record.event?.last ?? record.sequence) + 1
    if (end > (marks[record.stream] ?? 0)) marks[record.stream] = end
  }
  settled.settle(first.event.ackFrom, last.event.ackTo, marks)
}

interface Ahead {
  readonly to: number
  readonly marks: StreamMarks | undefined
}

// Batches settle out of order when several are in flight; a sink's position is the first
// sequence before which everything is settled.
class SettledRanges {
  #next: number
  readonly #marks: { stdout?: number, stderr?: number } = {}
  readonly #ahead = new Map<number, Ahead>()
  readonly #onAck: (next: number, marks: StreamMarks) => void

  constructor (next: number, onAck: (next: number, marks: StreamMarks) => void) {
    this.#next = next
    this.#onAck = onAck
  }

  settle (from: number, to: number, marks?: StreamMarks): void {
    if (to <= this.#next) {
      // An event whose range is empty (the other stream's open event holds the position) still
      // moves its stream's mark on.
      if (this.#mark(marks)) this.#onAck(this.#next, this.#marks)
      return
    }
    if (from > this.#next) {
      const ahead = this.#ahead.get(from)
      this.#ahead.set(from, ahead === undefined || ahead.to < to ? { to, marks: marks ?? ahead?.marks } : ahead)
      return
    }
    this.#next = to
    this.#mark(marks)
    for (let found = true; found;) {
      found = false
      for (const [start, ahead] of this.#ahead) {
        if (start > this.#next) continue
        this.#ahead.delete(start)
        this.#mark(ahead.marks)
        if (ahead.to > this.#next) {
          this.#next = ahead.to
          found = true
        }
      }
    }
    this.#onAck(this.#next, this.#marks)
  }

  // Whether a mark moved on.
  #mark (marks: StreamMarks | undefined): boolean {
    if (marks === undefined) return false
    let moved = false
    if ((marks.stdout ?? 0) > (this.#marks.stdout ?? 0)) {
      this.#marks.stdout = marks.stdout
      moved = true
    }
    if ((marks.stderr ?? 0) > (this.#marks.stderr ?? 0)) {
      this.#marks.stderr = marks.stderr
      moved = true
    }
    return moved
  }
}
