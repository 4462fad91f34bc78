import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { drainPlugin, measure, medianRate, showRate, type Rate } from './core.js'
import { buildReference } from './reference-build.js'
import { PluginProcess } from '../test/helpers/plugin.js'

// The HTTP sink's benchmark (issue 6): lines/s of the whole path container → dockerd → FIFO →
// logrelay → HTTP → a server that only counts records, next to the drain-only plugin and to
// logrelay with no sink (the core's share of the gap). The clock runs from `docker run` until
// the container has exited and, for the sink, the last record has been counted. The same run
// also measures the plugin as it was before sinks read from the store (in-memory queues, built
// from MEMORY_PATH_REV): the price of durable delivery (issue 12).

// The last commit whose sinks were fed from memory queues only.
const MEMORY_PATH_REV = process.env['BENCH_MEMORY_PATH_REV'] ?? 'fe1127794191226fa36d943aa1f54b7b9acf2378'

// What linesScript writes per line, newline included.
const LINE_BYTES = 100
// The defaults (1,000 records or 1 MiB) keep bodies under the 1 MB that many gateways accept
// (nginx's client_max_body_size); an endpoint that takes larger bodies can have fewer requests.
const LARGE_BATCHES = ['http-batch-max-records=5000', 'http-batch-max-bytes=4m']

export interface HttpSinkBench {
  readonly lines: number
  readonly drain: Rate
  readonly storeOnly: Rate
  readonly http: Rate
  readonly httpMemoryPath: Rate
  readonly httpLargeBatches: Rate
  readonly requests: number
}

// Counts ndjson records by their newlines and answers 200 with no body.
export async function countingServer (): Promise<{ url: string, records: () => number, requests: () => number, close: () => Promise<void> }> {
  let records = 0
  let requests = 0
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) records++
    })
    req.on('end', () => {
      requests++
      res.writeHead(200, { 'content-length': '0' })
      res.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`,
    records: () => records,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// Runs in turns (drain, store only, http, http with large batches) so a noisy neighbour hits
// all of them alike.
export async function benchHttpSink (rounds: number, lines: number): Promise<HttpSinkBench> {
  const drain = drainPlugin()
  const logrelay = new PluginProcess({ LOG_LEVEL: 'warn' })
  const reference = buildReference(MEMORY_PATH_REV)
  const memoryPath = new PluginProcess({ LOG_LEVEL: 'warn' }, reference.entry)
  const server = await countingServer()
  await drain.start()
  await logrelay.start()
  await memoryPath.start()
  try {
    const rates = { drain: [] as Rate[], storeOnly: [] as Rate[], http: [] as Rate[], httpMemoryPath: [] as Rate[], httpLargeBatches: [] as Rate[] }
    const storeOpts = ['store-max-bytes=1g']
    const httpOpts = [...storeOpts, 'sink=http', `http-url=${server.url}`]
    for (let r = 0; r < rounds; r++) {
      rates.drain.push(await measure(drain, lines, []))
      rates.storeOnly.push(await measure(logrelay, lines, storeOpts))
      rates.http.push(await measure(logrelay, lines, httpOpts, server.records))
      rates.httpMemoryPath.push(await measure(memoryPath, lines, httpOpts, server.records))
      rates.httpLargeBatches.push(await measure(logrelay, lines, [...httpOpts, ...LARGE_BATCHES], server.records))
    }
    const result = {
      lines, drain: medianRate(rates.drain), storeOnly: medianRate(rates.storeOnly), http: medianRate(rates.http), httpMemoryPath: medianRate(rates.httpMemoryPath), httpLargeBatches: medianRate(rates.httpLargeBatches), requests: server.requests(),
    }
    console.log(`\n## HTTP sink: ${lines.toLocaleString()} lines of ${LINE_BYTES} bytes from one container to a counting server (${rounds} rounds, in turns, medians)`)
    showRate('drain-only plugin:', result.drain, rates.drain)
    showRate('logrelay, no sink:', result.storeOnly, rates.storeOnly)
    showRate('logrelay, sink=http:', result.http, rates.http)
    showRate(`  memory path (${reference.rev}):`, result.httpMemoryPath, rates.httpMemoryPath)
    showRate('  5,000-record batches:', result.httpLargeBatches, rates.httpLargeBatches)
    console.log(`ratio http/drain line rate: ${(result.http.linesPerSec / result.drain.linesPerSec).toFixed(3)} (target >= 0.8); ` +
      `with 5,000-record batches: ${(result.httpLargeBatches.linesPerSec / result.drain.linesPerSec).toFixed(3)}; ` +
      `http/no sink: ${(result.http.linesPerSec / result.storeOnly.linesPerSec).toFixed(3)}; ${result.requests} requests`)
    console.log(`plugin CPU per line, disk delivery / memory path: ${(result.http.cpuMicrosPerLine / result.httpMemoryPath.cpuMicrosPerLine).toFixed(3)} (target <= 1.15); ` +
      `store only / drain: ${(result.storeOnly.cpuMicrosPerLine / result.drain.cpuMicrosPerLine).toFixed(3)}`)
    return result
  } finally {
    await memoryPath.cleanup()
    reference.remove()
    await logrelay.cleanup()
    await drain.cleanup()
    await server.close()
  }
}
