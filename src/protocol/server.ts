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

  // Errors that reach Fastify's handler (a body over the limit, a request that throws) are
  // answered as each endpoint must fail; see failureReply.
  app.setErrorHandler((err, req, reply) => {
    if (!(err instanceof PluginError) && !isClientError(err)) log.error({ err }, 'request failed')
    return failureReply(reply, req.routeOptions.url ?? req.url, err, log)
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
    await driver.startLogging(file(b), parseContainerInfo(b['Info']))
    return json(reply, { Err: '' })
  })

  app.post('/LogDriver.StopLogging', async (req, reply) => {
    const driver = await driverReady
    await driver.stopLogging(file(body(req.body)))
    return json(reply, { Err: '' })
  })

  // Errors before the stream starts go out as failureReply says; after it, the stream ends.
  app.post('/LogDriver.ReadLogs', async (req, reply) => {
    const abort = new AbortController()
    const b = body(req.body)
    const driver = await driverReady
    const frames = driver.readLogs(parseContainerInfo(b['Info']), parseReadConfig(b['Config']), abort.signal)
    reads.set(abort, new Promise((resolve) => reply.raw.on('close', () => {
      abort.abort()
      reads.delete(abort)
      resolve()
    })))
    const stream = Readable.from(frames, { objectMode: false })
    // A reader that goes away (docker logs interrupted, the daemon's client gone) is normal.
    stream.on('error', (err) => {
      if (abort.signal.aborted) log.debug({ err: errorMessage(err) }, 'ReadLogs client went away')
      else log.error({ err }, 'ReadLogs stream failed')
    })
    return reply.code(200).type('application/x-json-stream').send(stream)
  })

  // Not the daemon's: `npm run status` asks here. An Err when the settings keep the driver
  // from loading, as StartLogging would answer.
  app.get('/logrelay/status', async (_req, reply) => json(reply, pluginStatus(await driverReady)))

  return app
}

// 4xx errors of Fastify's own (a body over bodyLimit) are the client's doing, not a bug.
function isClientError (err: unknown): boolean {
  const status = (err as { statusCode?: unknown }).statusCode
  return typeof status === 'number' && status >= 400 && status < 500
}

// How each endpoint fails (protocol.md):
// - StopLogging never answers an Err: it would leak the FIFO and the plugin's refcount in the
//   daemon, which then blocks `docker plugin disable` and `upgrade` (item 24). It is logged and
//   answered as success.
// - ReadLogs must not fail with a 200: the daemon would read '{"Er' as a 2 GB frame length
//   (trap 16). It gets the error's own 4xx status, or 500, with {"Err"}.
// - Every other endpoint answers 200 + {"Err"}, which `docker run` shows to the user.
function failureReply (reply: FastifyReply, url: string, err: unknown, log: Logger): FastifyReply {
  const message = err instanceof PluginError || isClientError(err) ? errorMessage(err) : `internal error: ${errorMessage(err)}`
  const answer = reply.type('application/json')
  if (url === '/LogDriver.StopLogging') {
    log.warn({ err: message }, 'StopLogging request could not be read; answered success anyway')
    return answer.code(200).send({ Err: '' })
  }
  if (url === '/LogDriver.ReadLogs') return answer.code(isClientError(err) ? (err as { statusCode: number }).statusCode : 500).send({ Err: message })
  return answer.code(200).send({ Err: message })
}
