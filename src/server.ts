import { Readable } from 'node:stream'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { parseContainerInfo } from './container-info.js'
import { errorMessage, PluginError } from './errors.js'
import type { LogDriver } from './log-driver.js'
import { parseReadConfig } from './read-logs.js'

function body (value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PluginError('LOGRELAY_ERR_REQ_BODY', 'empty or non-JSON request body (a transport retry by the daemon resends an empty body)')
  }
  return value as Record<string, unknown>
}

function file (value: Record<string, unknown>): string {
  const f = value['File']
  if (typeof f !== 'string' || f === '') throw new PluginError('LOGRELAY_ERR_REQ_FIELD', 'the request has no File')
  return f
}

// Fastify on the plugin socket, speaking the protocol as the daemon really does
// (shared/docs/protocol.md): bodies come with no Content-Type (or the v1.2+json Accept only),
// Capabilities and Activate have empty bodies, every answer is 200 with a JSON object (an empty
// body fails in the daemon with EOF), and failures are {"Err": "..."}, which `docker run`
// shows to the user.
export function buildServer (driver: LogDriver, log: Logger): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = log.child({ component: 'server' })
  const app = Fastify({ loggerInstance, bodyLimit: 16 * 1024 * 1024 })
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

  // Follow reads end only when their container stops; at shutdown they are ended here, or
  // close() would wait for them until the daemon's SIGKILL.
  const reads = new Set<AbortController>()
  app.addHook('preClose', async () => { for (const read of reads) read.abort() })

  const json = (reply: FastifyReply, value: unknown): FastifyReply => reply.code(200).type('application/json').send(value)

  app.post('/Plugin.Activate', async (_req, reply) => json(reply, { Implements: ['LogDriver'] }))

  app.post('/LogDriver.Capabilities', async (_req, reply) => json(reply, { Cap: { ReadLogs: true }, Err: '' }))

  app.post('/LogDriver.StartLogging', async (req, reply) => {
    const b = body(req.body)
    driver.startLogging(file(b), parseContainerInfo(b['Info']))
    return json(reply, { Err: '' })
  })

  // Never an Err here: it would leak the FIFO and the plugin's refcount in the daemon, which
  // then blocks `docker plugin disable` and `upgrade` (protocol.md, item 24).
  app.post('/LogDriver.StopLogging', async (req, reply) => {
    try {
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
      frames = driver.readLogs(parseContainerInfo(b['Info']), parseReadConfig(b['Config']), abort.signal)
    } catch (err) {
      return reply.code(500).type('application/json').send({ Err: errorMessage(err) })
    }
    reads.add(abort)
    reply.raw.on('close', () => {
      abort.abort()
      reads.delete(abort)
    })
    const stream = Readable.from(frames, { objectMode: false })
    stream.on('error', (err) => log.error({ err }, 'ReadLogs stream failed'))
    return reply.code(200).type('application/x-json-stream').send(stream)
  })

  return app
}
