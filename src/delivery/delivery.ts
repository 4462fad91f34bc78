import { EventEmitter, once } from 'node:events'
import type { Logger } from 'pino'
import { EventStage, type EventSettings, type StreamMarks } from '../events/event-stage.js'
import type { ContainerMeta, LogRecord } from '../record.js'
import type { ContainerLog } from '../store/container-log.js'
import { RecordReader } from '../store/record-reader.js'
import type { BatchLimits, Sink } from '../../sinks/sink.js'
import type { DropCounter } from './drops.js'
import { Positions } from './positions.js'
import { BoundedQueue } from './queue.js'
import { SinkRunner } from './runner.js'
import { DeliveryStats, type DropReason, type SinkCounters } from './stats.js'

export const BUFFER_FULL_POLICIES = ['block', 'drop-oldest'] as const
export type BufferFullPolicy = typeof BUFFER_FULL_POLICIES[number]

export interface DeliveryBounds {
  // The records one sink holds in memory (its batches being built and in flight).
  readonly queueMaxRecords: number
  readonly queueMaxBytes: number
  // The undelivered backlog the container may keep on disk, and what happens at the bound.
  readonly bufferMaxBytes: number
  readonly bufferFull: BufferFullPolicy
}

// The undelivered backlog of every container together, against the plugin-wide bound.
export class BacklogBudget {
  readonly maxBytes: number
  readonly #bytes = new Map<string, number>()
  #total = 0

  constructor (maxBytes: number) {
    this.maxBytes = maxBytes
  }

  get total (): number {
    return this.#total
  }

  set (container: string, bytes: number): void {
    this.#total += bytes - (this.#bytes.get(container) ?? 0)
    if (bytes === 0) this.#bytes.delete(container)
    else this.#bytes.set(container, bytes)
  }
}

export interface DeliveryEvents {
  // The backlog reached its bound under buffer-full=block: the container's FIFOs wait.
  full: []
  room: []
}

export interface OpenedSink {
  readonly sink: Sink
  readonly limits: BatchLimits
}

// Bytes a record counts for in queues and batch limits: its line plus the metadata every
// encoding adds. Exact sizes are the sink's business; this only has to bound memory.
function recordBytes (record: LogRecord): number {
  return record.line.length + (record.json?.members.length ?? 0) + 256
}

// One sink's undelivered backlog for one container, as the engine stands: the records from the
// sink's position to the end of the store.
export interface SinkBacklog {
  readonly container: ContainerMeta
  readonly sink: string
  readonly counters: SinkCounters
  readonly records: number
  // On disk from the segment holding the sink's position, so to within one segment.
  readonly bytes: number
  // The time (ms since the epoch) of the oldest undelivered record, when it is in memory: it is
  // whenever the sink has records in flight or queued, which is whenever it has a backlog but
  // for the moment a read from disk takes.
  readonly oldestMs: number | undefined
  readonly lastError: { readonly reason: string, readonly at: number } | undefined
}

function timeMs (record: LogRecord): number {
  return (record.time.hi * 0x100000000 + record.time.lo) / 1e6
}

interface Output {
  readonly sink: Sink
  readonly counters: SinkCounters
  readonly queue: BoundedQueue<LogRecord>
  readonly runner: SinkRunner
  readonly reader: RecordReader
  // Multiline grouping and parsing, between the store and the queue, when the options ask.
  readonly stage: EventStage | undefined
  // The first sequence not yet delivered or dropped: the position saved for a restart.
  acked: number
  // The first sequence not yet in the queue (or in the stage, grouped into an event).
  next: number
  // Records go to the queue as they are stored; otherwise the reader brings them from disk.
  live: boolean
  refilling: boolean
}

const DROP_OLDEST_REASON = 'buffer-full=drop-oldest: the undelivered backlog reached its bound'
const GONE_REASON = 'removed from the local store before delivery'

// Everything one container ships, whichever of its streams (overlapping Files: restarts,
// `docker logs` on a stopped container) wrote it. The store is the hand-off: every record is
// on disk before it gets here, each sink has a position in the store that moves on only when a
// batch's outcome is final and is saved, and memory holds only a bounded queue per sink. While a
// sink keeps up its queue is fed as records are stored; once it falls behind, its reader brings
// them back from disk at its position. Backpressure reaches the FIFOs only when the backlog on
// disk reaches its bound under buffer-full=block.
export class ContainerDelivery extends EventEmitter<DeliveryEvents> {
  readonly container: ContainerMeta
  readonly done: Promise<void>
  readonly #store: ContainerLog
  readonly #outputs: Output[]
  readonly #bounds: DeliveryBounds
  readonly #budget: BacklogBudget
  readonly #drops: DropCounter
  readonly #stats: DeliveryStats
  readonly #log: Logger
  readonly #positions: Positions
  readonly #onAppend = (): void => this.#checkBacklog()
  #resolveDone!: () => void
  // Whoever still writes to the container or wants it delivered: its streams, and the driver
  // while it sets one up. With none left, delivery finishes what is on disk and closes.
  #holds = 1
  #blocked = false
  #finished = false

  // `stats` holds the plugin's counters (a delivery given none counts into its own); `events`:
  // multiline grouping and parsing, when the container's options ask for them.
  constructor (store: ContainerLog, container: ContainerMeta, sinks: readonly OpenedSink[], bounds: DeliveryBounds,
    budget: BacklogBudget, drops: DropCounter, log: Logger, stats = new DeliveryStats(false), events?: EventSettings) {
    super()
    this.setMaxListeners(0)
    this.container = container
    this.#store = store
    this.#bounds = bounds
    this.#budget = budget
    this.#drops = drops
    this.#stats = stats
    this.#log = log
    this.done = new Promise((resolve) => { this.#resolveDone = resolve })
    this.#positions = new Positions(store.dir)
    const end = store.lastSequence + 1
    this.#outputs = sinks.map(({ sink, limits }) => {
      // A sink new to this container starts at the end: it does not ship the history.
      let start = Math.min(this.#positions.get(sink.name) ?? end, end)
      const counters = stats.acquire(sink.name, container)
      if (start < store.firstSequence) {
        this.#dropped(counters, 'evicted', GONE_REASON, store.firstSequence - start)
        start = store.firstSequence
      }
      const queue = new BoundedQueue<LogRecord>(bounds.queueMaxRecords, bounds.queueMaxBytes)
      // The marks go with the saved position: from anywhere else they could skip lines never sent.
      const marks = start === this.#positions.get(sink.name) ? this.#positions.marks(sink.name) : {}
      const stage = events === undefined
        ? undefined
        : new EventStage(events, start, marks, {
          emit: (record) => queue.push(record, recordBytes(record)),
          settle: (from, to) => output.runner.giveUp(from, to),
          caughtUp: () => output.live,
        })
      const output: Output = {
        sink,
        counters,
        queue,
        reader: new RecordReader(store, container),
        stage,
        acked: start,
        next: start,
        live: start === end,
        refilling: false,
        runner: new SinkRunner(sink, queue, limits, log, drops, start, (acked, marks) => this.#acked(output, acked, marks), counters),
      }
      if (this.#positions.get(sink.name) !== start) this.#positions.set(sink.name, start)
      return output
    })
    store.on('append', this.#onAppend)
    this.#keepUndelivered()
    for (const output of this.#outputs) if (!output.live) void this.#refill(output)
    this.#checkBacklog()
  }

  get empty (): boolean {
    return this.#outputs.length === 0
  }

  get blocked (): boolean {
    return this.#blocked
  }

  get finished (): boolean {
    return this.#finished
  }

  // The records of this container not yet delivered to every sink.
  get undelivered (): boolean {
    return this.#outputs.some((o) => o.acked <= this.#store.lastSequence)
  }

  // Where each sink stands, for /metrics and the status view.
  backlogs (): SinkBacklog[] {
    return this.#outputs.map((o) => {
      const records = Math.max(0, this.#store.lastSequence + 1 - o.acked)
      const oldest = records === 0 ? undefined : o.runner.oldestInFlight() ?? o.queue.peek()
      return {
        container: this.container,
        sink: o.sink.name,
        counters: o.counters,
        records,
        bytes: records === 0 ? 0 : this.#store.bytesFrom(o.acked),
        oldestMs: oldest === undefined ? undefined : timeMs(oldest),
        lastError: o.runner.lastError,
      }
    })
  }

  hold (): void {
    this.#holds++
  }

  release (): void {
    this.#holds--
    for (const output of this.#outputs) this.#flushIfDone(output)
    this.#maybeFinish()
  }

  // A record just stored: straight to every sink that is keeping up.
  push (record: LogRecord): void {
    for (const output of this.#outputs) {
      if (!output.live) continue
      if (output.queue.full) {
        output.live = false
        void this.#refill(output)
        continue
      }
      this.#enqueue(output, record)
    }
  }

  #enqueue (output: Output, record: LogRecord): void {
    if (output.stage === undefined) output.queue.push(record, recordBytes(record))
    else output.stage.feed(record)
    output.next = record.sequence + 1
    output.counters.handedRecords++
    output.counters.handedBytes += record.line.length
  }

  // With no stream left to write, no line can come to end the events still being grouped.
  #flushIfDone (output: Output): void {
    if (this.#holds === 0 && output.live) output.stage?.flush()
  }

  // Plugin shutdown: nothing is given up. In-flight batches are abandoned (they are sent again
  // after the restart), positions are saved, and the sinks closed.
  async shutdown (): Promise<void> {
    if (this.#finished) return
    for (const output of this.#outputs) {
      output.runner.abort()
      output.queue.close()
    }
    // Events still being grouped were not delivered: they are grouped again after the restart.
    await this.#close()
  }

  // Refills a sink's queue from disk until it has caught up with the store; it then goes live,
  // in the same tick as its last read, so no record stored meanwhile is missed or sent twice.
  async #refill (output: Output): Promise<void> {
    if (output.refilling) return
    output.refilling = true
    try {
      while (!output.live && !this.#finished) {
        if (output.queue.full) {
          await once(output.queue, 'drain')
          continue
        }
        const from = output.next
        const { records, missing } = await output.reader.read(from, Math.min(output.queue.room, 1000), this.#bounds.queueMaxBytes / 4)
        if (this.#finished) break
        // drop-oldest may have moved the sink on while the read was under way.
        if (output.next !== from) continue
        if (missing > 0) {
          this.#dropped(output.counters, 'evicted', GONE_REASON, missing)
          output.stage?.gap(output.next + missing)
          output.runner.giveUp(output.next, output.next + missing)
          output.next += missing
        }
        for (const record of records) this.#enqueue(output, record)
        if (output.next > this.#store.lastSequence) {
          output.live = true
          this.#flushIfDone(output)
        }
      }
    } catch (err) {
      this.#log.error({ code: 'LOGRELAY_ERR_STORE_IO', err, container: this.container.id, sink: output.sink.name }, 'reading the local store back for a sink failed; retrying in 1 s')
      setTimeout(() => void this.#refill(output), 1000).unref()
    } finally {
      output.refilling = false
    }
    this.#checkBacklog()
  }

  #acked (output: Output, acked: number, marks: StreamMarks): void {
    output.acked = acked
    this.#positions.set(output.sink.name, acked, marks)
    this.#keepUndelivered()
    this.#store.trim()
    this.#checkBacklog()
    this.#maybeFinish()
  }

  #keepUndelivered (): void {
    this.#store.keepFrom(Math.min(...this.#outputs.map((o) => o.acked)))
  }

  // The backlog is what is on disk and not yet taken into memory by the slowest sink.
  #backlogBytes (): number {
    if (this.#outputs.length === 0) return 0
    return this.#store.bytesFrom(Math.min(...this.#outputs.map((o) => o.next)))
  }

  #overBound (bytes: number): boolean {
    return bytes > this.#bounds.bufferMaxBytes || (bytes > 0 && this.#budget.total > this.#budget.maxBytes)
  }

  #checkBacklog (): void {
    if (this.#finished) return
    let bytes = this.#backlogBytes()
    this.#budget.set(this.container.id, bytes)
    if (this.#bounds.bufferFull === 'drop-oldest') {
      while (this.#overBound(bytes) && this.#dropOldest()) {
        bytes = this.#backlogBytes()
        this.#budget.set(this.container.id, bytes)
      }
      return
    }
    const over = this.#overBound(bytes)
    if (over && !this.#blocked) {
      this.#blocked = true
      this.#log.warn({ container: this.container.id, name: this.container.name, backlogBytes: bytes, bufferMaxBytes: this.#bounds.bufferMaxBytes, totalBacklogBytes: this.#budget.total },
        'pausing the log FIFO: the undelivered backlog reached its bound (buffer-full=block); the daemon now holds the container\'s output')
      this.emit('full')
    } else if (!over && this.#blocked) {
      this.#blocked = false
      this.#log.info({ container: this.container.id, name: this.container.name, backlogBytes: bytes }, 'reading the log FIFO again: the backlog is under its bound')
      this.emit('room')
    }
  }

  // Gives up the oldest segment's records that no sink has taken into memory yet; false when
  // only the segment being written is left.
  #dropOldest (): boolean {
    const slowest = Math.min(...this.#outputs.map((o) => o.next))
    const boundary = this.#store.nextSegmentStart(slowest)
    if (boundary === undefined) return false
    for (const output of this.#outputs) {
      if (output.next >= boundary) continue
      this.#dropped(output.counters, 'buffer-full', DROP_OLDEST_REASON, boundary - output.next)
      output.stage?.gap(boundary)
      output.runner.giveUp(output.next, boundary)
      output.next = boundary
    }
    return true
  }

  #dropped (counters: SinkCounters, kind: DropReason, reason: string, count: number): void {
    this.#drops.add(counters, kind, reason, count, { container: this.container.id })
  }

  // Finished: no stream writes, every record is delivered or dropped, nothing is in flight.
  #maybeFinish (): void {
    if (this.#finished || this.#holds > 0 || this.undelivered) return
    if (this.#outputs.some((o) => o.queue.length > 0 || o.acked !== o.next)) return
    for (const output of this.#outputs) output.queue.close()
    void this.#close()
  }

  async #close (): Promise<void> {
    this.#finished = true
    this.#store.off('append', this.#onAppend)
    this.#budget.set(this.container.id, 0)
    if (this.#blocked) this.emit('room')
    this.#positions.save()
    for (const output of this.#outputs) output.stage?.close()
    await Promise.all(this.#outputs.map(async (o) => {
      await o.runner.done
      await o.reader.close()
      await o.sink.close()
      this.#stats.release(o.counters)
    }))
    this.#resolveDone()
  }
}
