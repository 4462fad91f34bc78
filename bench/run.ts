import { startDockerd } from '../test/helpers/dockerd.js'
import { ensureServices } from '../test/services/services.js'
import { benchCore } from './core.js'
import { benchHttpSink } from './http-sink.js'
import { benchEsSink } from './es-sink.js'
import { benchKafkaSink } from './kafka-sink.js'
import { benchStartup } from './startup.js'

// `npm run bench`: every benchmark against a private dockerd, each printed next to its
// reference run in the same go. BENCH_ROUNDS and BENCH_LINES shrink or grow a run.
async function main (): Promise<void> {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3)
  const lines = Number(process.env['BENCH_LINES'] ?? 1_000_000)
  const [dockerd, services] = await Promise.all([startDockerd(), ensureServices()])
  process.env['DOCKER_HOST'] = dockerd.host
  process.env['KAFKA_BROKERS'] = services.kafkaBrokers
  process.env['ES_URL'] = services.esUrl
  try {
    await benchCore(rounds, lines)
    await benchHttpSink(rounds, Math.ceil(lines / 2))
    await benchKafkaSink(Math.ceil(lines / 5), Math.max(1, rounds - 1))
    await benchEsSink(services.esUrl, Math.ceil(lines / 10), rounds)
    await benchStartup(Math.max(5, rounds))
  } finally {
    await dockerd.stop()
    await services.stop()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
