import fs from 'node:fs'
import path from 'node:path'
import { errorMessage } from './errors.js'
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

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    void (async () => {
      await Promise.all([driver?.shutdown(SHUTDOWN_GRACE_MS), app.close()])
      fs.rmSync(socket, { force: true })
      process.exit(0)
    })()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  log.fatal({ err }, `logrelay cannot start: ${errorMessage(err)}`)
  process.exit(1)
})
