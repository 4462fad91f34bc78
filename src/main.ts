import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { errorMessage, PluginError } from './errors.js'
import type { LogDriver } from './protocol/driver.js'
import { log } from './logger.js'
import { buildServer } from './protocol/server.js'
import { pluginSocket, readPluginSettings } from './settings.js'

// The daemon sends SIGKILL 10 s after SIGTERM.
const SHUTDOWN_GRACE_MS = 8_000

async function main (): Promise<void> {
  const socket = pluginSocket(process.env)
  // The daemon gives a managed plugin about 9.5 s to listen, and a restarted plugin's containers
  // block meanwhile: listen first, and load the driver with its sinks' client libraries (half a
  // second of module loading, more on a busy host) while the socket already accepts calls.
  // A setting that does not parse does not stop the plugin either: the daemon would only report
  // that the socket is missing, while a listening plugin answers every StartLogging with the
  // setting's error, which `docker run` shows.
  const driverReady: Promise<LogDriver> = (async () => {
    const settings = readPluginSettings(process.env)
    const { LogDriver } = await import('./protocol/driver.js')
    return new LogDriver(settings, process.env, log)
  })()
  driverReady.catch(() => {})
  const app = buildServer(driverReady, log)
  fs.mkdirSync(path.dirname(socket), { recursive: true })
  // A socket left by a previous run would make listen() fail with EADDRINUSE.
  fs.rmSync(socket, { force: true })
  await app.listen({ path: socket })
  // Root's alone, whatever the umask: besides the daemon's calls it answers the status request.
  fs.chmodSync(socket, 0o600)
  // startupMs counts from the process's start. The daemon dials a managed plugin's socket 0.5 s
  // after starting it, then every 3 s, and gives up after about 9.5 s (protocol.md, Q5).
  log.info({ socket, startupMs: Math.round(performance.now()) }, 'logrelay listening')
  let driver: LogDriver | undefined
  try {
    driver = await driverReady
    await driver.reattach()
  } catch (err) {
    log.fatal({ err }, `logrelay cannot log any container until this is fixed (docker plugin set, or the plugin's environment): ${errorMessage(err)}`)
  }
  const serving = (): boolean => app.server.listening && fs.statSync(socket, { throwIfNoEntry: false })?.isSocket() === true
  const metrics = driver === undefined ? undefined : await startMetrics(driver, serving)

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    void (async () => {
      await Promise.all([driver?.shutdown(SHUTDOWN_GRACE_MS), app.close(), metrics?.close()])
      fs.rmSync(socket, { force: true })
      process.exit(0)
    })()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

// Monitoring must not cost the logs: a listener that cannot listen is reported, and the plugin
// goes on logging without it.
async function startMetrics (driver: LogDriver, serving: () => boolean): Promise<FastifyInstance | undefined> {
  const address = driver.settings.metricsAddr
  if (address === undefined) return undefined
  const [{ metricsRegistry }, { listeningOn, serveMetrics }, { health }] = await Promise.all([
    import('./metrics/registry.js'), import('./metrics/listener.js'), import('./metrics/health.js')])
  const source = { serving, backlogs: () => driver.backlogs(), maxBacklogAgeMs: driver.settings.healthMaxBacklogAgeMs }
  try {
    const app = await serveMetrics(address, metricsRegistry(driver), () => health(source), log)
    log.info({ address: listeningOn(app) }, 'metrics listening')
    return app
  } catch (err) {
    log.error({ code: err instanceof PluginError ? err.code : undefined, err }, errorMessage(err))
    return undefined
  }
}

main().catch((err: unknown) => {
  log.fatal({ err }, `logrelay cannot start: ${errorMessage(err)}`)
  process.exit(1)
})
