import fs from 'node:fs'
import type { Logger } from 'pino'
import { Delivery } from '../delivery/delivery.js'
import { DropCounter } from '../delivery/drops.js'
import { PluginError } from '../errors.js'
import { parseOptions, readOptionDefaults } from '../options/schema.js'
import { coreLogOptions, logOptionSpecs, type PluginSettings } from '../settings.js'
import { isSafeContainerId, LocalStore } from '../store/local-store.js'
import { readLogs, type ReadConfig } from '../store/read-logs.js'
import { ContainerStream } from '../streams/container-stream.js'
import { openSinks, sinkDefinitions } from '../../sinks/registry.js'
import { ActiveFiles } from './active-files.js'
import { containerMeta, type ContainerInfo } from './container-info.js'

const SWEEP_INTERVAL_MS = 60_000

// The plugin's state: one ContainerStream per File, the local store, and the list of Files to
// re-attach after a restart.
export class LogDriver {
  readonly #settings: PluginSettings
  readonly #log: Logger
  readonly #store: LocalStore
  readonly #active: ActiveFiles
  readonly #streams = new Map<string, { readonly stream: ContainerStream, readonly delivery: Delivery }>()
  readonly #defaults: ReadonlyMap<string, string>
  readonly #drops: DropCounter
  readonly #sweepTimer: NodeJS.Timeout
  #shuttingDown = false

  constructor (settings: PluginSettings, env: NodeJS.ProcessEnv, log: Logger) {
    this.#settings = settings
    this.#log = log
    this.#defaults = readOptionDefaults(logOptionSpecs, env)
    const storeMax = parseOptions(logOptionSpecs, {}, this.#defaults).read(coreLogOptions).storeMaxBytes
    fs.mkdirSync(settings.stateDir, { recursive: true })
    this.#store = new LocalStore(settings.stateDir, { totalMaxSize: settings.storeTotalMaxBytes, retentionMs: settings.storeRetentionMs }, storeMax, log)
    this.#active = new ActiveFiles(settings.stateDir)
    this.#drops = new DropCounter(log)
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS)
    this.#sweepTimer.unref()
  }

  // Validates the options (the only place the daemon lets a plugin refuse them) and starts
  // reading. Never does network I/O: a backend that is down must not refuse a container.
  startLogging (file: string, info: ContainerInfo): void {
    if (this.#streams.has(file)) return
    this.#open(file, info, true)
  }

  #open (file: string, info: ContainerInfo, fresh: boolean): void {
    if (!isSafeContainerId(info.ContainerID)) throw new PluginError('LOGRELAY_ERR_REQ_FIELD', `Info.ContainerID ${JSON.stringify(info.ContainerID)} is not a container ID`)
    const options = parseOptions(logOptionSpecs, info.Config, this.#defaults)
    const core = options.read(coreLogOptions)
    const container = containerMeta(info, options, this.#settings.hostName)
    const sinks = openSinks(options, container, this.#log)
    const store = this.#store.container(info.ContainerID)
    store.maxSize = core.storeMaxBytes
    const delivery = new Delivery(sinks, { maxRecords: core.queueMaxRecords, maxBytes: core.queueMaxBytes }, this.#drops, this.#log)
    const stream = new ContainerStream(file, { store, delivery, container, partialMaxBytes: core.partialMaxBytes, log: this.#log })
    this.#streams.set(file, { stream, delivery })
    if (fresh) this.#active.add(file, info, container.env)
    void stream.done.then(() => {
      this.#streams.delete(file)
      // A stream cut off by shutdown is still open on the daemon's side: keep it for re-attach.
      if (!this.#shuttingDown) this.#active.remove(file)
      this.#log.debug({ container: info.ContainerID, file }, 'stream drained')
    })
    stream.start()
    this.#log.info({ container: info.ContainerID, name: container.name, file, sinks: sinks.map((s) => s.sink.name) }, fresh ? 'logging started' : 're-attached')
  }

  // Answers at once: the daemon closes its end after the answer, and the stream drains to EOF
  // on its own. An unknown File is fine (a retry, or a stream that already ended).
  stopLogging (file: string): void {
    const stream = this.#streams.get(file)?.stream
    if (stream === undefined) return
    stream.stop()
    this.#log.info({ container: stream.container.id, file }, 'logging stopping; draining to EOF')
  }

  readLogs (info: ContainerInfo, config: ReadConfig, signal: AbortSignal): AsyncGenerator<Buffer> {
    if (!isSafeContainerId(info.ContainerID)) throw new PluginError('LOGRELAY_ERR_REQ_FIELD', `Info.ContainerID ${JSON.stringify(info.ContainerID)} is not a container ID`)
    return readLogs(this.#store.container(info.ContainerID), config, signal)
  }

  // After a restart: re-open the Files whose daemon side is still open. A FIFO that is gone or
  // at EOF at once finishes by itself and is forgotten.
  reattach (): void {
    for (const [file, info] of [...this.#active.load()]) {
      try {
        this.#open(file, info, false)
      } catch (err) {
        this.#log.warn({ err, file }, 'cannot re-attach a saved log FIFO; forgetting it')
        this.#active.remove(file)
      }
    }
    this.#sweep()
  }

  #sweep (): void {
    try {
      this.#store.sweep()
    } catch (err) {
      this.#log.error({ err }, 'local store sweep failed')
    }
  }

  // SIGTERM: the daemon sends SIGKILL 10 s later. Streams stop reading (their Files stay saved
  // for re-attach, and unread bytes stay in the pipes); sinks get what is left of the grace
  // period to deliver what was already read.
  async shutdown (graceMs: number): Promise<void> {
    clearInterval(this.#sweepTimer)
    this.#shuttingDown = true
    const live = [...this.#streams.values()]
    const drained = Promise.all(live.map(async ({ stream }) => await stream.done))
    const timer = setTimeout(() => {
      for (const { stream, delivery } of live) {
        stream.detach()
        delivery.abort()
      }
    }, graceMs)
    // A stream whose StopLogging came is read to its imminent EOF; the others stop now.
    for (const { stream } of live) if (!stream.stopping) stream.detach()
    await drained
    clearTimeout(timer)
    this.#store.close()
    await Promise.allSettled(sinkDefinitions.map(async (d) => await d.closeAll()))
  }
}
