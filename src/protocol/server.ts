import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { errorMessage, PluginError } from '../errors.js'
import { parseContainerInfo } from './container-info.js'
import type { LogDriver } from './driver.js'
import { body, file, parseReadConfig } from './requests.js'
import { pluginStatus } from './status.js'

// Fastify on the plugin socket, speaking the protocol as the daemon really does
// (shared/docs/protocol.md): bodies come with no Content-Type (or the v1.2+json Accept only),
// Capabilities and Activate have empty bodies, every answer is 200 with a JSON object (an empty
// body fails in the daemon with EOF), and failures are {"Err": "..."}, which `docker run`
// shows to the user.
export function buildServer (driverReady: Promise<LogDriver>, log: Logger): FastifyInstance {
  // Request logs would be one line per call of the daemon's; only problems are logged.
  const loggerInstance: FastifyBaseLogger = log.child({ component: 'server' }, { level: 'warn' })
  // At shutdown every connection is cut: the daemon's idle keep-alive connections would
  // otherwise hold close() until its SIGKILL.
  const app = Fastify({ loggerInstance, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: true })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, raw: Buffer, done) => {
    if (raw.length === 0) return done(null, undefined)
    try {
      done(null, JSON.parse(raw.toString('utf8')))
    } catch {
      done(null, undefined)
    }
  })

  app.setErrorHandler((err, _req, reply) => {
    const message = err instanceof PluginError ? err.message : `internal error: ${errorMessage(err)}`
    if (!(err instanceof PluginError)) log.error({ err }, 'request failed')
    void reply.code(200).type('application/json').send({ Err: message })
  })

  // Follow reads end only when their container stops; at shutdown they are ended here, and
  // given a moment to send their last bytes before the connections are cut (a cut mid-stream
  // reads as "unexpected EOF" in docker logs -f).
  const reads = new Map<AbortController, Promise<void>>()
  app.addHook('preClose', async () => {
    for (const read of reads.keys()) read.abort()
    await Promise.race([Promise.all(reads.values()), sleep(2000)])
  })

  const json = (reply: FastifyReply, value: unknown): FastifyReply => reply.code(200).type('application/json').send(value)

  app.post('/Plugin.Activate', async (_req, reply) => json(reply, { Implements: ['LogDriver'] }))

  app.post('/LogDriver.Capabilities', async (_req, reply) => json(reply, { Cap: { ReadLogs: true }, Err: '' }))

  app.post('/LogDriver.StartLogging', async (req, reply) => {
    const b = body(req.body)
    const driver = await driverReady
    driver.startLogging(file(b), parseContainerInfo(b['Info']))
    return json(reply, { Err: '' })
  })

  // Never an Err here: it would leak the FIFO and the plugin's refcount in the daemon, which
  // then blocks `docker plugin disable` and `upgrade` (protocol.md, item 24).
  app.post('/LogDriver.StopLogging', async (req, reply) => {
    try {
      const driver = await driverReady
      driver.stopLogging(file(body(req.body)))
    } catch (err) {
      log.warn({ err }, 'StopLogging request could not be read; answered success anyway')
    }
    return json(reply, { Err: '' })
  })

  // A ReadLogs failure must not be a 200: the daemon would read '{"Er' as a 2 GB frame length
  // (protocol.md, trap 16). Errors before the stream starts go out as 500 + {"Err"}.
  app.post('/LogDriver.ReadLogs', async (req, reply) => {
    let frames: AsyncGenerator<Buffer>
    const abort = new AbortController()
    try {
      const b = body(req.body)
      const driver = await driverReady
      frames = driver.readLogs(parseContainerInfo(b['Info']), parseReadConfig(b['Config']), abort.signal)
    } catch (err) {
      return reply.code(500).type('application/json').send({ Err: errorMessage(err) })
    }
    reads.set(abort, new Promise((resolve) => reply.raw.on('close', () => {
      abort.abort()
      reads.delete(abort)
      resolve()
    })))
    const stream = Readable.from(frames, { objectMode: false })
    stream.on('error', (err) => log.error({ err }, 'ReadLogs stream failed'))
    return reply.code(200).type('application/x-json-stream').send(stream)
  })

  // Not the daemon's: `npm run status` asks here. An Err when the settings keep the driver
  // from loading, as StartLogging would answer.
  app.get('/logrelay/status', async (_req, reply) => json(reply, pluginStatus(await driverReady)))

  return app
}
