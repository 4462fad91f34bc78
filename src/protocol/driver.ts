import fs from 'node:fs'
import type { Logger } from 'pino'
import { BacklogBudget, ContainerDelivery, type SinkBacklog } from '../delivery/delivery.js'
import { eventSettings } from '../events/options.js'
import { DropCounter } from '../delivery/drops.js'
import { DeliveryStats } from '../delivery/stats.js'
import { errorMessage, PluginError } from '../errors.js'
import { echo } from '../options/kinds.js'
import { loadOptions, parseOptions, readOptionDefaults, type Options } from '../options/schema.js'
import { coreLogOptions, logOptionSpecs, pluginSettings, type PluginSettings } from '../settings.js'
import type { ContainerMeta } from '../record.js'
import type { ContainerLog } from '../store/container-log.js'
import { isSafeContainerId, LocalStore } from '../store/local-store.js'
import { readLogs, type ReadConfig } from '../store/read-logs.js'
import { ContainerStream } from '../streams/container-stream.js'
import { openSinks, sinkDefinitions } from '../../sinks/registry.js'
import { ActiveFiles } from './active-files.js'
import { containerMeta, type ContainerInfo } from './container-info.js'
import { infoToKeep, readContainerInfo, saveContainerInfo } from './saved-info.js'

const SWEEP_INTERVAL_MS = 60_000

// The daemon always creates File as a FIFO before StartLogging; anything else (a regular file,
// a directory, /dev/null) comes from another client of the socket and is refused up front
// rather than left to a stream that could never end.
function assertFifo (file: string): void {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false })
  if (stat === undefined) throw new PluginError('LOGRELAY_ERR_REQ_FIELD', `File ${JSON.stringify(file)} does not exist`)
  if (!stat.isFIFO()) throw new PluginError('LOGRELAY_ERR_REQ_FIELD', `File ${JSON.stringify(file)} is not a FIFO`)
}

// A state directory that cannot be made or written (a file, a read-only mount) is the setting's
// fault: the error names it, rather than an fs call deep in the store.
function prepareStateDir (dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true })
    fs.accessSync(dir, fs.constants.W_OK)
  } catch (err) {
    const problem = (err as NodeJS.ErrnoException).code ?? errorMessage(err)
    throw new PluginError('LOGRELAY_ERR_ENV_INVALID', `invalid plugin setting ${pluginSettings.stateDir.env}=${echo(dir)} (${problem}): expected ${pluginSettings.stateDir.kind.accepts}`, { cause: err })
  }
}

async function * noFrames (): AsyncGenerator<Buffer> {}

// What the plugin's streams have read from the FIFOs.
export interface StreamTotals {
  bytes: number
  frames: number
  corruptRegions: number
  corruptBytes: number
}

// The plugin's state: one ContainerStream per File, one ContainerDelivery per container (shared
// by its overlapping Files, and kept after they end until its sinks have everything), the local
// store, and the list of Files to re-attach after a restart.
export class LogDriver {
  readonly #settings: PluginSettings
  readonly #log: Logger
  readonly #store: LocalStore
  readonly #active: ActiveFiles
  readonly #streams = new Map<string, ContainerStream>()
  // The Files saved by the previous process, known from the start so that a StopLogging for one
  // waits for its re-attach (options are read before the FIFO is opened): each settles once its
  // stream is open or given up.
  readonly #saved: ReadonlyArray<[string, ContainerInfo]>
  readonly #reattaching = new Map<string, { done: Promise<void>, settle: () => void }>()
  readonly #deliveries = new Map<string, ContainerDelivery>()
  readonly #budget: BacklogBudget
  readonly #defaults: ReadonlyMap<string, string>
  readonly #drops: DropCounter
  readonly stats: DeliveryStats
  readonly #sweepTimer: NodeJS.Timeout
  // The streams that have ended; those running are added when asked.
  readonly #endedStreams: StreamTotals = { bytes: 0, frames: 0, corruptRegions: 0, corruptBytes: 0 }
  #readsInProgress = 0
  #shuttingDown = false

  constructor (settings: PluginSettings, env: NodeJS.ProcessEnv, log: Logger) {
    this.#settings = settings
    this.#log = log
    this.#defaults = readOptionDefaults(logOptionSpecs, env)
    const storeMax = parseOptions(logOptionSpecs, {}, this.#defaults).read(coreLogOptions).storeMaxBytes
    prepareStateDir(settings.stateDir)
    this.#store = new LocalStore(settings.stateDir, { totalMaxSize: settings.storeTotalMaxBytes, retentionMs: settings.storeRetentionMs }, storeMax, log)
    this.#active = new ActiveFiles(settings.stateDir)
    this.#saved = [...this.#active.load()]
    for (const [file] of this.#saved) {
      let settle = (): void => {}
      const done = new Promise<void>((resolve) => { settle = resolve })
      this.#reattaching.set(file, { done, settle })
    }
    this.#drops = new DropCounter(log)
    this.stats = new DeliveryStats(settings.metricsContainerLabels)
    this.#budget = new BacklogBudget(settings.bufferTotalMaxBytes)
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS)
    this.#sweepTimer.unref()
  }

  // Validates the options (the only place the daemon lets a plugin refuse them) and starts
  // reading. Never does network I/O: a backend that is down must not refuse a container.
  async startLogging (file: string, info: ContainerInfo): Promise<void> {
    if (this.#streams.has(file)) return
    assertFifo(file)
    const options = await this.#options(info)
    // A repeated StartLogging may have opened it while the files were read.
    if (this.#streams.has(file)) return
    this.#open(file, info, options, true)
  }

  // The container's options, with the files they name read (the only part that waits).
  async #options (info: ContainerInfo): Promise<Options> {
    if (!isSafeContainerId(info.ContainerID)) throw new PluginError('LOGRELAY_ERR_REQ_FIELD', `Info.ContainerID ${JSON.stringify(info.ContainerID)} is not a container ID`)
    return await loadOptions(logOptionSpecs, info.Config, this.#defaults)
  }

  #open (file: string, info: ContainerInfo, options: Options, fresh: boolean): void {
    const core = options.read(coreLogOptions)
    const container = containerMeta(info, options, this.#settings.hostName)
    const store = this.#store.container(info.ContainerID)
    store.maxSize = core.storeMaxBytes
    const delivery = this.#delivery(info, options, container, store)
    const stream = new ContainerStream(file, { store, delivery, container, partialMaxBytes: core.partialMaxBytes, log: this.#log })
    this.#streams.set(file, stream)
    if (fresh) this.#active.add(file, info, container.env)
    void stream.done.then(() => {
      this.#streams.delete(file)
      addStream(this.#endedStreams, stream)
      // A stream cut off by shutdown is still open on the daemon's side: keep it for re-attach.
      if (!this.#shuttingDown) this.#active.remove(file)
      this.#log.debug({ container: info.ContainerID, file }, 'stream drained')
    })
    stream.start()
    delivery.release()
    this.#log.info({ container: info.ContainerID, name: container.name, file }, fresh ? 'logging started' : 're-attached')
  }

  // The container's delivery, held for the caller, who releases it: the one already running,
  // or a new one with the sinks these options name, starting at their saved positions.
  #delivery (info: ContainerInfo, options: Options, container: ContainerMeta, store: ContainerLog): ContainerDelivery {
    const running = this.#deliveries.get(container.id)
    if (running !== undefined && !running.finished) {
      running.hold()
      return running
    }
    const core = options.read(coreLogOptions)
    const events = eventSettings(options)
    const sinks = openSinks(options, container, this.#log)
    const delivery = new ContainerDelivery(store, container, sinks, {
      queueMaxRecords: core.queueMaxRecords,
      queueMaxBytes: core.queueMaxBytes,
      bufferMaxBytes: core.bufferMaxBytes,
      bufferFull: core.bufferFull,
    }, this.#budget, this.#drops, this.#log, this.stats, events)
    // What a restart needs to resume this container's delivery when no File of it is open.
    if (sinks.length > 0) saveContainerInfo(store.dir, infoToKeep(info, container.env))
    this.#deliveries.set(container.id, delivery)
    void delivery.done.then(() => {
      if (this.#deliveries.get(container.id) === delivery) this.#deliveries.delete(container.id)
    })
    if (sinks.length > 0) this.#log.info({ container: container.id, name: container.name, sinks: sinks.map((s) => s.sink.name) }, 'delivery started')
    return delivery
  }

  // Answers at once: the daemon closes its end after the answer, and the stream drains to EOF
  // on its own. An unknown File is fine (a retry, or a stream that already ended).
  // A StopLogging that comes while its File is still being re-attached waits for the open: the
  // daemon closes and unlinks the FIFO once answered, and what is still in the pipe would go.
  async stopLogging (file: string): Promise<void> {
    await this.#reattaching.get(file)?.done
    const stream = this.#streams.get(file)
    if (stream === undefined) return
    stream.stop()
    this.#log.info({ container: stream.container.id, file }, 'logging stopping; draining to EOF')
  }

  readLogs (info: ContainerInfo, config: ReadConfig, signal: AbortSignal): AsyncGenerator<Buffer> {
    if (!isSafeContainerId(info.ContainerID)) throw new PluginError('LOGRELAY_ERR_REQ_FIELD', `Info.ContainerID ${JSON.stringify(info.ContainerID)} is not a container ID`)
    const store = this.#store.existing(info.ContainerID)
    // A container the store does not have (never logged here, or swept) has no lines to give.
    return store === undefined ? noFrames() : this.#counted(readLogs(store, config, signal))
  }

  // Counted from its first read to its end: a read the daemon drops before it starts never ran.
  async * #counted (frames: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
    this.#readsInProgress++
    try {
      yield * frames
    } finally {
      this.#readsInProgress--
    }
  }

  // The engine's own state, as /metrics and the status view show it.
  get readsInProgress (): number {
    return this.#readsInProgress
  }

  get settings (): PluginSettings {
    return this.#settings
  }

  get activeStreams (): number {
    return this.#streams.size
  }

  * backlogs (): Iterable<SinkBacklog> {
    for (const delivery of this.#deliveries.values()) yield * delivery.backlogs()
  }

  // Every container being read or still delivering, with how many of its Files are open.
  containers (): { container: ContainerMeta, streams: number, backlogs: SinkBacklog[] }[] {
    const streams = new Map<string, number>()
    for (const stream of this.#streams.values()) streams.set(stream.container.id, (streams.get(stream.container.id) ?? 0) + 1)
    return [...this.#deliveries.values()].map((d) => ({ container: d.container, streams: streams.get(d.container.id) ?? 0, backlogs: d.backlogs() }))
  }

  streamTotals (): StreamTotals {
    const totals = { ...this.#endedStreams }
    for (const stream of this.#streams.values()) addStream(totals, stream)
    return totals
  }

  storeBytes (): number {
    return this.#store.bytesOnDisk()
  }

  storeEvictions (): Readonly<Record<string, number>> {
    return this.#store.evictions
  }

  // After a restart: re-open the Files whose daemon side is still open (a FIFO that is gone or
  // at EOF at once finishes by itself and is forgotten), then resume the delivery of every
  // container whose sinks have not had all of its records, stopped containers included.
  async reattach (): Promise<void> {
    for (const [file, info] of this.#saved) {
      try {
        const options = await this.#options(info)
        if (!this.#streams.has(file)) this.#open(file, info, options, false)
      } catch (err) {
        this.#log.warn({ err, file }, 'cannot re-attach a saved log FIFO; forgetting it')
        this.#active.remove(file)
      } finally {
        this.#reattaching.get(file)?.settle()
        this.#reattaching.delete(file)
      }
    }
    for (const id of this.#store.containerIds()) {
      if (this.#deliveries.has(id)) continue
      const info = readContainerInfo(this.#store.containerDir(id))
      if (info === undefined || info.ContainerID !== id) continue
      try {
        const options = await this.#options(info)
        // A StartLogging of this container may have started its delivery meanwhile.
        if (this.#deliveries.has(id)) continue
        const store = this.#store.container(id)
        store.maxSize = options.read(coreLogOptions).storeMaxBytes
        const delivery = this.#delivery(info, options, containerMeta(info, options, this.#settings.hostName), store)
        if (delivery.undelivered) this.#log.info({ container: id }, 'resuming delivery of a container\'s backlog')
        delivery.release()
      } catch (err) {
        this.#log.error({ err, container: id }, 'cannot resume the delivery of a container\'s backlog')
      }
    }
    this.#sweep()
  }

  #sweep (): void {
    try {
      this.#store.sweep((id) => this.#deliveries.has(id))
    } catch (err) {
      this.#log.error({ err }, 'local store sweep failed')
    }
  }

  // SIGTERM: the daemon sends SIGKILL 10 s later. Streams stop reading (their Files stay saved
  // for re-attach, and unread bytes stay in the pipes); a stream whose StopLogging came is read
  // to its imminent EOF first. Delivery gives nothing up: what is not delivered is on disk, with
  // the sinks' positions, and goes out after the restart.
  async shutdown (graceMs: number): Promise<void> {
    clearInterval(this.#sweepTimer)
    this.#shuttingDown = true
    const streams = [...this.#streams.values()]
    const drained = Promise.all(streams.map(async (stream) => await stream.done))
    const deadline = Date.now() + graceMs
    const timer = setTimeout(() => { for (const stream of streams) void stream.detach(deadline) }, graceMs)
    for (const stream of streams) if (!stream.stopping) void stream.detach(deadline)
    await drained
    clearTimeout(timer)
    this.#store.close()
    await Promise.allSettled([...this.#deliveries.values()].map(async (d) => await d.shutdown()))
    this.#drops.flush()
    await Promise.allSettled(sinkDefinitions.map(async (d) => await d.closeAll()))
  }
}

function addStream (totals: StreamTotals, stream: ContainerStream): void {
  totals.bytes += stream.bytesRead
  totals.frames += stream.frames
  totals.corruptRegions += stream.corruptRegions
  totals.corruptBytes += stream.corruptBytes
}
