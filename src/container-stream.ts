import type { Logger } from 'pino'
import type { ContainerInfo, ContainerMeta, LogRecord } from './container-info.js'
import { FifoReader } from './fifo-reader.js'
import type { LogEntry } from './log-entry.js'
import type { ContainerLog } from './local-store.js'
import { PartialAssembler, type AssembledLine } from './partial-assembler.js'
import { BoundedQueue } from './queue.js'
import { recordBytes, SinkRunner, type BatchLimits, type DropCounter } from './sink-runner.js'
import type { Sink } from '../sinks/sink.js'

export interface StreamSink {
  readonly sink: Sink
  readonly limits: BatchLimits
}

export interface StreamDeps {
  readonly store: ContainerLog
  readonly meta: ContainerMeta
  readonly sinks: readonly StreamSink[]
  readonly queueMaxRecords: number
  readonly queueMaxBytes: number
  readonly partialMaxBytes: number
  readonly drops: DropCounter
  readonly log: Logger
}

interface Output {
  readonly sink: Sink
  readonly queue: BoundedQueue<LogRecord>
  readonly runner: SinkRunner
}

// One File's life: read the FIFO to EOF, join partial lines, store every line, hand each to
// every sink's bounded queue, and pause the FIFO while any queue is full, so the daemon's own
// `mode` decides between blocking the container and dropping. Keyed by File, never by
// container: restarts and `docker logs` on a stopped container overlap (protocol.md, item 9).
export class ContainerStream {
  readonly file: string
  readonly info: ContainerInfo
  readonly done: Promise<void>
  #resolveDone!: () => void
  readonly #deps: StreamDeps
  readonly #reader: FifoReader
  readonly #assembler: PartialAssembler
  readonly #outputs: Output[]
  #stopping = false
  #started = false

  constructor (file: string, info: ContainerInfo, deps: StreamDeps) {
    this.file = file
    this.info = info
    this.#deps = deps
    this.done = new Promise((resolve) => { this.#resolveDone = resolve })
    this.#reader = new FifoReader(file)
    this.#assembler = new PartialAssembler(deps.partialMaxBytes, (line) => this.#line(line))
    this.#outputs = deps.sinks.map(({ sink, limits }) => {
      const queue = new BoundedQueue<LogRecord>(deps.queueMaxRecords, deps.queueMaxBytes)
      queue.on('drain', () => this.#maybeResume())
      return { sink, queue, runner: new SinkRunner(sink, queue, limits, deps.log, deps.drops) }
    })
  }

  // Opens the FIFO; a FIFO that is already gone is a stream that already finished.
  start (): void {
    this.#deps.store.streamStarted()
    this.#started = true
    const reader = this.#reader
    reader.on('entry', (entry) => this.#entry(entry))
    reader.on('corrupt', (region) => {
      this.#deps.log.warn({ code: 'LOGRELAY_ERR_FIFO_FRAME', container: this.info.ContainerID, file: this.file, ...region }, 'corrupt bytes skipped in the log FIFO')
    })
    reader.on('error', (err) => {
      this.#deps.log.error({ err, container: this.info.ContainerID, file: this.file }, 'reading the log FIFO failed')
    })
    reader.on('end', () => { void this.#finish() })
    let opened: boolean
    try {
      opened = reader.open()
    } catch (err) {
      this.#deps.log.error({ code: 'LOGRELAY_ERR_FIFO_OPEN', err, container: this.info.ContainerID, file: this.file }, 'cannot open the log FIFO')
      opened = false
    }
    if (!opened) void this.#finish()
  }

  // StopLogging: the daemon closes its end only after this answer, so reading goes on to EOF
  // and nothing buffered in the pipe is lost (protocol.md, item 23).
  stop (): void {
    this.#stopping = true
  }

  get stopping (): boolean {
    return this.#stopping
  }

  // Plugin shutdown: stop reading; what is left stays in the pipe for the next start, which
  // re-attaches. Sinks go on delivering what was already read.
  detach (): void {
    this.#reader.close()
  }

  // The end of the shutdown grace period: undelivered batches are given up (and counted).
  abortDelivery (): void {
    for (const output of this.#outputs) output.runner.abort()
  }

  #entry (entry: LogEntry): void {
    if (entry.source !== 'stdout' && entry.source !== 'stderr') return
    this.#assembler.push(entry.source, entry)
  }

  #line (line: AssembledLine): void {
    const store = this.#deps.store
    store.append(line)
    if (this.#outputs.length === 0) return
    const record: LogRecord = {
      stream: line.stream,
      time: line.time,
      line: line.line,
      complete: line.complete,
      sequence: store.nextSequence(),
      container: this.#deps.meta,
    }
    const bytes = recordBytes(record)
    let full = false
    for (const output of this.#outputs) {
      if (!output.queue.push(record, bytes)) full = true
    }
    if (full) this.#reader.pause()
  }

  #maybeResume (): void {
    if (this.#outputs.every((o) => !o.queue.full)) this.#reader.resume()
  }

  async #finish (): Promise<void> {
    this.#assembler.end()
    if (this.#started) this.#deps.store.streamEnded()
    for (const output of this.#outputs) output.queue.close()
    await Promise.all(this.#outputs.map(async (o) => {
      await o.runner.done
      await o.sink.close()
    }))
    this.#resolveDone()
  }
}
