import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { LogRecord } from '../record.js'
import type { BatchLimits, Sink } from '../../sinks/sink.js'
import type { DropCounter } from './drops.js'
import { BoundedQueue } from './queue.js'
import { SinkRunner } from './runner.js'

export interface QueueBounds {
  readonly maxRecords: number
  readonly maxBytes: number
}

export interface DeliveryEvents {
  // Every queue has room again after push() said one was full.
  drain: []
}

// Bytes a record counts for in queues and batch limits: its line plus the metadata every
// encoding adds. Exact sizes are the sink's business; this only has to bound memory.
function recordBytes (record: LogRecord): number {
  return record.line.length + 256
}

interface Output {
  readonly sink: Sink
  readonly queue: BoundedQueue<LogRecord>
  readonly runner: SinkRunner
}

// Everything one container stream ships: per sink a bounded queue and the runner that drains
// it, and the sink itself, closed once its runner is done. The stream only hands records on and
// listens for backpressure.
export class Delivery extends EventEmitter<DeliveryEvents> {
  readonly #outputs: Output[]
  readonly done: Promise<void>
  #ended = false
  #resolveEnded!: () => void

  constructor (sinks: readonly { sink: Sink, limits: BatchLimits }[], bounds: QueueBounds, drops: DropCounter, log: Logger) {
    super()
    this.#outputs = sinks.map(({ sink, limits }) => {
      const queue = new BoundedQueue<LogRecord>(bounds.maxRecords, bounds.maxBytes)
      queue.on('drain', () => {
        if (!this.full) this.emit('drain')
      })
      return { sink, queue, runner: new SinkRunner(sink, queue, limits, log, drops) }
    })
    this.done = new Promise<void>((resolve) => { this.#resolveEnded = resolve }).then(async () => {
      await Promise.all(this.#outputs.map(async (o) => {
        await o.runner.done
        await o.sink.close()
      }))
    })
  }

  get empty (): boolean {
    return this.#outputs.length === 0
  }

  get full (): boolean {
    return this.#outputs.some((o) => o.queue.full)
  }

  // Like a stream's write(): false once some sink's queue is full.
  push (record: LogRecord): boolean {
    const bytes = recordBytes(record)
    let room = true
    for (const output of this.#outputs) {
      if (!output.queue.push(record, bytes)) room = false
    }
    return room
  }

  // No more records: the runners deliver what is queued, then the sinks are closed.
  end (): void {
    if (this.#ended) return
    this.#ended = true
    for (const output of this.#outputs) output.queue.close()
    this.#resolveEnded()
  }

  // The end of the shutdown grace period: undelivered batches are given up (and counted).
  abort (): void {
    for (const output of this.#outputs) output.runner.abort()
  }
}
