import fs from 'node:fs'
import type { Logger } from 'pino'
import { ActiveFiles } from './active-files.js'
import { containerMeta, type ContainerInfo } from './container-info.js'
import { ContainerStream, type StreamSink } from './container-stream.js'
import { PluginError } from './errors.js'
import { isSafeContainerId, LocalStore } from './local-store.js'
import { readLogs, type ReadConfig } from './read-logs.js'
import { coreLogOptions, parseOptions, readOptionDefaults, type OptionSpec, type PluginSettings } from './settings.js'
import { DropCounter } from './sink-runner.js'
import { batchLimits, findSink, sinkDefinitions, sinkLogOptions, sinkSelectOption } from '../sinks/registry.js'

export const logOptionSpecs: readonly OptionSpec[] = [sinkSelectOption, ...coreLogOptions, ...sinkLogOptions()]

const SWEEP_INTERVAL_MS = 60_000

// The plugin's state: one ContainerStream per File, the local store, and the list of Files to
// re-attach after a restart.
export class LogDriver {
  readonly #settings: PluginSettings
  readonly #log: Logger
  readonly #store: LocalStore
  readonly #active: ActiveFiles
  readonly #streams = new Map<string, ContainerStream>()
  readonly #defaults: ReadonlyMap<string, string>
  readonly #drops: DropCounter
  readonly #sweepTimer: NodeJS.Timeout
  #shuttingDown = false

  constructor (settings: PluginSettings, env: NodeJS.ProcessEnv, log: Logger) {
    this.#settings = settings
    this.#log = log
    this.#defaults = readOptionDefaults(logOptionSpecs, env)
    const storeMax = Number(parseOptions(logOptionSpecs, {}, this.#defaults).number('store-max-bytes'))
    fs.mkdirSync(settings.stateDir, { recursive: true })
    this.#store = new LocalStore(settings.stateDir, { totalMaxSize: settings.storeTotalMaxSize, retentionMs: settings.storeRetentionMs }, storeMax, log)
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
    const meta = containerMeta(info, options, this.#settings.hostName)
    const sinks: StreamSink[] = []
    try {
      for (const name of options.list('sink')) {
        const definition = findSink(name)
        if (definition === undefined) continue
        sinks.push({ sink: definition.open(options, info, this.#log), limits: batchLimits(definition, options) })
      }
    } catch (err) {
      for (const s of sinks) void s.sink.close()
      throw err
    }
    const store = this.#store.container(info.ContainerID)
    store.maxSize = options.number('store-max-bytes')
    const stream = new ContainerStream(file, info, {
      store,
      meta,
      sinks,
      queueMaxRecords: options.number('queue-max-records'),
      queueMaxBytes: options.number('queue-max-bytes'),
      partialMaxBytes: options.number('partial-max-bytes'),
      drops: this.#drops,
      log: this.#log,
    })
    this.#streams.set(file, stream)
    if (fresh) this.#active.add(file, info, meta.env)
    void stream.done.then(() => {
      this.#streams.delete(file)
      // A stream cut off by shutdown is still open on the daemon's side: keep it for re-attach.
      if (!this.#shuttingDown) this.#active.remove(file)
      this.#log.debug({ container: info.ContainerID, file }, 'stream drained')
    })
    stream.start()
    this.#log.info({ container: info.ContainerID, name: meta.name, file, sinks: options.list('sink') }, fresh ? 'logging started' : 're-attached')
  }

  // Answers at once: the daemon closes its end after the answer, and the stream drains to EOF
  // on its own. An unknown File is fine (a retry, or a stream that already ended).
  stopLogging (file: string): void {
    const stream = this.#streams.get(file)
    if (stream === undefined) return
    stream.stop()
    this.#log.info({ container: stream.info.ContainerID, file }, 'logging stopping; draining to EOF')
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
    const streams = [...this.#streams.values()]
    const drained = Promise.all(streams.map(async (s) => await s.done))
    const timer = setTimeout(() => {
      for (const s of streams) {
        s.detach()
        s.abortDelivery()
      }
    }, graceMs)
    // A stream whose StopLogging came is read to its imminent EOF; the others stop now.
    for (const s of streams) if (!s.stopping) s.detach()
    await drained
    clearTimeout(timer)
    this.#store.close()
    await Promise.allSettled(sinkDefinitions.map(async (d) => await d.closeAll()))
  }
}
