import { Client } from '@elastic/elasticsearch'
import { bulkBody, elasticsearchSink, idPrefix } from '../sinks/elasticsearch.js'
import type { LogRecord } from '../src/record.js'
import { uniqueName } from '../test/helpers/docker.js'
import { PluginProcess } from '../test/helpers/plugin.js'
import { containerMeta, logRecords } from '../test/helpers/records.js'
import { drainPlugin, linesScript, timedRun, median } from './core.js'

// Elasticsearch end to end (container → dockerd → plugin → node, counted in the index) next to
// two references run in the same go: the drain-only plugin (what dockerd and the kernel cost by
// themselves) and a bare client.bulk loop sending the same documents in the same batch sizes
// and concurrency (what the node costs by itself). The sink's figure over the bare loop's is
// the plugin's overhead. Printed, never asserted.

const { maxRecords: BATCH, concurrency: CONCURRENCY } = elasticsearchSink.batchDefaults

async function countNow (es: Client, index: string): Promise<number> {
  await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true })
  return (await es.count({ index, ignore_unavailable: true, allow_no_indices: true })).count
}

async function waitForCount (es: Client, index: string, expected: number): Promise<void> {
  const deadline = Date.now() + 600_000
  while (await countNow(es, index) < expected) {
    if (Date.now() > deadline) throw new Error(`${index} never reached ${expected} documents`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

// The records the sink would get from a container writing linesScript(lines).
function records (lines: number): LogRecord[] {
  const container = containerMeta({ name: 'bench', imageName: 'logrelay-test/busybox', hostName: 'bench-host' })
  return logRecords(lines, Buffer.from('x'.repeat(99)), container, BigInt(Date.now()) * 1_000_000n)
}

async function bareBulk (es: Client, index: string, lines: number): Promise<number> {
  const all = records(lines)
  const prefix = idPrefix('bench')
  let next = 0
  const begin = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < all.length) {
      const batch = all.slice(next, next + BATCH)
      next += batch.length
      // The same body the sink sends, encoded by the same code.
      const operations = bulkBody(batch, prefix, () => index).body as unknown as string[]
      const result = await es.bulk<string>({ index, operations })
      if (result.errors) throw new Error('the bare bulk loop got item errors')
    }
  }))
  await waitForCount(es, index, lines)
  return Number(process.hrtime.bigint() - begin) / 1e9
}

function rate (lines: number, seconds: number): string {
  return `${Math.round(lines / seconds).toLocaleString()} docs/s (${seconds.toFixed(2)} s)`
}

// The machine is shared: runs alternate (drain, sink, bare; drain, bare, sink; ...) and medians
// are compared, so a burst of load elsewhere hits every kind alike.
export async function benchEsSink (esUrl: string, lines = 250_000, rounds = 3): Promise<void> {
  const es = new Client({ node: esUrl })
  const drain = drainPlugin()
  const logrelay = new PluginProcess({ LOGRELAY_ES_URL: esUrl })
  const indexes: string[] = []
  await drain.start()
  await logrelay.start()
  try {
    console.log(`\n## Elasticsearch: ${lines.toLocaleString()} lines of 100 bytes from one container (batches of ${BATCH}, ${CONCURRENCY} in flight; a warm-up, then ${rounds} rounds, in turns)`)
    const times = { drain: [] as number[], sink: [] as number[], bare: [] as number[] }
    const timedSink = async (): Promise<number> => {
      const sinkIndex = uniqueName('bench-es-sink')
      indexes.push(sinkIndex)
      const begin = process.hrtime.bigint()
      await timedRun(logrelay.name, linesScript(lines), ['--log-opt', 'sink=elasticsearch', '--log-opt', `es-index=${sinkIndex}`])
      await waitForCount(es, sinkIndex, lines)
      return Number(process.hrtime.bigint() - begin) / 1e9
    }
    const timedBare = async (): Promise<number> => {
      const bareIndex = uniqueName('bench-es-bare')
      indexes.push(bareIndex)
      return await bareBulk(es, bareIndex, lines)
    }
    // A node just started indexes several times faster after its first few hundred thousand
    // documents (the JVM compiles its hot paths): one untimed run of each comes first, and the
    // order alternates, so neither kind always meets the colder node.
    await timedSink()
    await timedBare()
    await es.indices.delete({ index: indexes.splice(0), ignore_unavailable: true })
    for (let r = 0; r < rounds; r++) {
      times.drain.push((await timedRun(drain.name, linesScript(lines))).seconds)
      if (r % 2 === 0) {
        times.sink.push(await timedSink())
        times.bare.push(await timedBare())
      } else {
        times.bare.push(await timedBare())
        times.sink.push(await timedSink())
      }
      // Indexes left from earlier rounds would make the node merge in the background of the next.
      await es.indices.delete({ index: indexes.splice(0), ignore_unavailable: true })
    }
    const runs = (t: readonly number[]): string => t.map((s) => Math.round(lines / s).toLocaleString()).join(', ')
    console.log(`drain-only plugin: ${rate(lines, median(times.drain))}  runs: ${runs(times.drain)}`)
    console.log(`logrelay elasticsearch sink, docker run to all documents counted: ${rate(lines, median(times.sink))}  runs: ${runs(times.sink)}`)
    console.log(`bare client.bulk loop, same documents and batches: ${rate(lines, median(times.bare))}  runs: ${runs(times.bare)}`)
    console.log(`ratio sink/bare: ${(median(times.bare) / median(times.sink)).toFixed(3)} (target >= 0.8)`)
  } finally {
    await drain.cleanup()
    await logrelay.cleanup()
    if (indexes.length > 0) await es.indices.delete({ index: indexes, ignore_unavailable: true }).catch(() => undefined)
    await es.close()
  }
}
