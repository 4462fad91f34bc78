import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { errorMessage, PluginError } from '../errors.js'
import type { ListenAddress } from '../options/kinds.js'
import type { Health } from './health.js'

// The optional TCP listener (LOGRELAY_METRICS_ADDR): Prometheus scrapes /metrics here, and host
// monitoring asks /healthz (200 "ok", or 503 with a reason a line). It is apart from the
// plugin's socket, which only root and the daemon reach.
export async function serveMetrics (address: ListenAddress, registry: Registry, health: () => Health, log: Logger): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = log.child({ component: 'metrics' }, { level: 'warn' })
  const app = Fastify({ loggerInstance, forceCloseConnections: true })
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  app.get('/healthz', async (_req, reply) => {
    const answer = health()
    return reply.code(answer.healthy ? 200 : 503).type('text/plain; charset=utf-8').send(answer.healthy ? 'ok\n' : `${answer.reasons.join('\n')}\n`)
  })
  try {
    await app.listen({ host: address.host, port: address.port })
  } catch (err) {
    await app.close()
    throw new PluginError('LOGRELAY_ERR_METRICS_LISTEN',
      `cannot serve metrics on ${address.host}:${address.port} (LOGRELAY_METRICS_ADDR): ${errorMessage(err)}; logging goes on without them`, { cause: err })
  }
  return app
}

export function listeningOn (app: FastifyInstance): string {
  const addresses = app.addresses() as AddressInfo[]
  return addresses.map((a) => a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`).join(', ')
}
