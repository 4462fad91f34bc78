import { startDockerd } from '../test/helpers/dockerd.js'
import { ensureServices, type ServiceName } from '../test/services/services.js'
import { benchCore } from './core.js'
import { benchEsSink } from './es-sink.js'
import { benchEvents } from './events.js'
import { benchHttpSink } from './http-sink.js'
import { benchKafkaSink } from './kafka-sink.js'
import { benchMetrics } from './metrics.js'
import { benchScale } from './scale.js'
import { benchStartup } from './startup.js'

// `npm run bench`: every benchmark against a private dockerd (and the test Kafka or
// Elasticsearch), each printed next to its reference run in the same go. `npm run bench -- http
// kafka` runs only those. BENCH_ROUNDS and BENCH_LINES shrink or grow a run.
const BENCHES = ['core', 'http', 'kafka', 'es', 'startup', 'scale', 'events', 'metrics'] as const
type BenchName = typeof BENCHES[number]

function selected (args: readonly string[]): ReadonlySet<BenchName> {
  const unknown = args.filter((a) => !(BENCHES as readonly string[]).includes(a))
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}: choose from ${BENCHES.join(', ')}`)
  return new Set(args.length === 0 ? BENCHES : args as BenchName[])
}

async function withService (name: ServiceName, bench: (servers: { kafkaBrokers: string, esUrl: string }) => Promise<unknown>): Promise<void> {
  const services = await ensureServices({ only: [name] })
  try {
    await bench(services)
  } finally {
    await services.stop()
  }
}

async function main (): Promise<void> {
  const run = selected(process.argv.slice(2))
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3)
  const lines = Number(process.env['BENCH_LINES'] ?? 1_000_000)
  const dockerd = await startDockerd()
  process.env['DOCKER_HOST'] = dockerd.host
  try {
    if (run.has('core')) await benchCore(rounds, lines)
    if (run.has('http')) await benchHttpSink(rounds, lines)
    // Each backend runs only during its own benchmark: an idle Elasticsearch still takes CPU
    // from the two cores everything else shares.
    if (run.has('kafka')) {
      await withService('kafka', async ({ kafkaBrokers }) => await benchKafkaSink(kafkaBrokers, Math.ceil(lines / 5), Math.max(1, rounds - 1)))
    }
    if (run.has('es')) await withService('elasticsearch', async ({ esUrl }) => await benchEsSink(esUrl, Math.ceil(lines / 4), rounds))
    if (run.has('startup')) await benchStartup(Math.max(5, rounds))
    if (run.has('scale')) await benchScale()
    if (run.has('events')) await benchEvents(rounds, Math.ceil(lines / 2))
    if (run.has('metrics')) await benchMetrics(rounds, lines)
  } finally {
    await dockerd.stop()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
