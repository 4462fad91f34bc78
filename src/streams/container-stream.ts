import type { Logger } from 'pino'
import type { ContainerDelivery } from '../delivery/delivery.js'
import type { ContainerMeta, LogLine } from '../record.js'
import type { ContainerLog } from '../store/container-log.js'
import { FifoReader } from './fifo-reader.js'
import type { LogEntry } from './log-entry.js'
import { PartialAssembler } from './partial-assembler.js'

export interface StreamDeps {
  readonly store: ContainerLog
  readonly delivery: ContainerDelivery
  readonly container: ContainerMeta
  readonly partialMaxBytes: number
  readonly log: Logger
}

// One File's life: read the FIFO to EOF, join partial lines, store every line, then hand it to
// the container's delivery. The FIFO waits only while delivery says its backlog is at its bound
// (buffer-full=block); the daemon's own `mode` then decides between blocking the container and
// dropping. Keyed by File, never by container: restarts and `docker logs` on a stopped
// container overlap (protocol.md, item 9).
export class ContainerStream {
  readonly file: string
  readonly container: ContainerMeta
  readonly done: Promise<void>
  #resolveDone!: () => void
  readonly #deps: StreamDeps
  readonly #reader: FifoReader
  readonly #assembler: PartialAssembler
  readonly #pause = (): void => this.#reader.pause()
  readonly #resume = (): void => this.#reader.resume()
  #stopping = false
  #started = false
  // What this stream read, for /metrics: frames decoded, and corrupt regions skipped.
  frames = 0
  corruptRegions = 0
  corruptBytes = 0

  constructor (file: string, deps: StreamDeps) {
    this.file = file
    this.container = deps.container
    this.#deps = deps
    this.done = new Promise((resolve) => { this.#resolveDone = resolve })
    this.#reader = new FifoReader(file)
    this.#assembler = new PartialAssembler(deps.partialMaxBytes, (line) => this.#line(line))
  }

  // Opens the FIFO; a FIFO that is already gone is a stream that already finished.
  start (): void {
    const { store, delivery } = this.#deps
    store.streamStarted()
    delivery.hold()
    delivery.on('full', this.#pause)
    delivery.on('room', this.#resume)
    if (delivery.blocked) this.#reader.pause()
    this.#started = true
    const reader = this.#reader
    const context = { container: this.container.id, file: this.file }
    reader.on('entry', (entry) => this.#entry(entry))
    reader.on('corrupt', (region) => {
      this.corruptRegions++
      this.corruptBytes += region.skippedBytes
      this.#deps.log.warn({ code: 'LOGRELAY_ERR_FIFO_FRAME', ...context, ...region }, 'corrupt bytes skipped in the log FIFO')
    })
    reader.on('error', (err) => {
      this.#deps.log.error({ err, ...context }, 'reading the log FIFO failed')
    })
    reader.on('end', () => this.#finish())
    let opened: boolean
    try {
      opened = reader.open()
    } catch (err) {
      this.#deps.log.error({ code: 'LOGRELAY_ERR_FIFO_OPEN', err, ...context }, 'cannot open the log FIFO')
      opened = false
    }
    if (!opened) this.#finish()
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

  get bytesRead (): number {
    return this.#reader.bytesRead
  }

  #entry (entry: LogEntry): void {
    this.frames++
    if (entry.source !== 'stdout' && entry.source !== 'stderr') return
    this.#assembler.push(entry.source, entry)
  }

  // Stored first: what the plugin took from the pipe is on disk before any sink sees it.
  #line (line: LogLine): void {
    const sequence = this.#deps.store.append(line)
    const delivery = this.#deps.delivery
    if (delivery.empty) return
    delivery.push({ stream: line.stream, time: line.time, line: line.line, complete: line.complete, sequence, container: this.container })
  }

  #finish (): void {
    this.#assembler.end()
    const { store, delivery } = this.#deps
    if (this.#started) {
      store.streamEnded()
      delivery.off('full', this.#pause)
      delivery.off('room', this.#resume)
      delivery.release()
    }
    this.#resolveDone()
  }
}
