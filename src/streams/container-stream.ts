import type { Logger } from 'pino'
import type { ContainerDelivery } from '../delivery/delivery.js'
import type { ContainerMeta, LogLine } from '../record.js'
import type { ContainerLog } from '../store/container-log.js'
import { FifoReader } from './fifo-reader.js'
import type { CorruptRegion } from './frame-decoder.js'
import type { LogEntry } from './log-entry.js'
import { PartialAssembler } from './partial-assembler.js'

// A container can write corrupt frames without end (another writer on its FIFO, a broken
// daemon): the first region is logged at once, the rest at most once per interval, in counts.
const CORRUPT_LOG_INTERVAL_MS = 10_000

// The corrupt-frame warnings: what the last one reported up to (of the stream's totals), the
// newest region since, and when it went out.
interface CorruptLog {
  regions: number
  bytes: number
  last: CorruptRegion | undefined
  loggedAt: number
  timer: NodeJS.Timeout | undefined
}

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
  readonly #corrupt: CorruptLog = { regions: 0, bytes: 0, last: undefined, loggedAt: 0, timer: undefined }
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
      this.#corruptRegion(region)
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

  // Plugin shutdown: stop reading, on a frame boundary if that comes before `deadline`; what is
  // left stays in the pipe for the next start, which re-attaches. Sinks go on delivering what
  // was already read.
  async detach (deadline: number): Promise<void> {
    await this.#reader.detach(deadline)
  }

  #corruptRegion (region: CorruptRegion): void {
    const counts = this.#corrupt
    counts.last = region
    const wait = counts.loggedAt + CORRUPT_LOG_INTERVAL_MS - Date.now()
    if (wait <= 0) {
      this.#logCorrupt()
    } else if (counts.timer === undefined) {
      counts.timer = setTimeout(() => this.#logCorrupt(), wait)
      counts.timer.unref()
    }
  }

  #logCorrupt (): void {
    const counts = this.#corrupt
    if (counts.timer !== undefined) clearTimeout(counts.timer)
    counts.timer = undefined
    const regions = this.corruptRegions - counts.regions
    if (regions === 0) return
    this.#deps.log.warn({
      code: 'LOGRELAY_ERR_FIFO_FRAME',
      container: this.container.id,
      file: this.file,
      offset: counts.last?.offset,
      reason: counts.last?.reason,
      regions,
      skippedBytes: this.corruptBytes - counts.bytes,
    }, 'corrupt bytes skipped in the log FIFO')
    counts.regions = this.corruptRegions
    counts.bytes = this.corruptBytes
    counts.loggedAt = Date.now()
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
    this.#logCorrupt()
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
