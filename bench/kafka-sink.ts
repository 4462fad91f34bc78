import fs from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel, Partitioners, type Admin, type Message } from 'kafkajs'
import { timeHalves, type LogRecord } from '../src/record.js'
import { kafkaSink, recordValues } from '../sinks/kafka.js'
import { dockerOk, TEST_IMAGE, uniqueName } from '../test/helpers/docker.js'
import { PluginProcess } from '../test/helpers/plugin.js'
import { exec } from '../test/helpers/process.js'
import { containerMeta } from '../test/helpers/records.js'
import { prepareKafka } from '../test/services/services.js'
import { printProfile } from './cpu-profile.js'
import { drainPlugin, measure, medianRate, showRate, statCpuSeconds, type Rate } from './core.js'

// The Kafka sink's benchmark (issue 15): lines/s and plugin CPU per line from a container
// through dockerd and logrelay into a topic, until the last line is in it, next to three
// references run in the same go, in turns:
// - the broker's limit: Kafka's own Java producer (org.apache.kafka.tools.ProducerPerformance)
//   sending records of the same size, acks=all, batches of the same bytes;
// - a bare kafkajs producer sending the sink's records (encoded beforehand) in the sink's
//   batches, one send at a time: what the client costs by itself;
// - logrelay with no sink (container to local store), and the drain-only plugin.
// The sink's CPU per line is compared with the bare producer's CPU per message plus the
// store-only plugin's CPU per line. Printed, never asserted.

const BATCH = kafkaSink.batchDefaults.maxRecords
const BATCH_BYTES = 1024 * 1024
const KEY_BYTES = 64
// The JVM needs a few hundred thousand records to reach its steady rate (its JIT); the broker's
// limit is that rate, so the Java producer sends more records than the others send lines.
const JAVA_RECORDS_PER_LINE = 3
const PROFILED = fileURLToPath(new URL('./profiled-plugin.js', import.meta.url))

async function highWatermark (admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0)
}

async function createTopic (admin: Admin, topic: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
}

// One batch of the JSON records the sink writes for a container of 100-byte lines (as
// linesScript), keyed by the container ID as the sink keys them.
function sinkMessages (): Message[] {
  const meta = containerMeta({ name: uniqueName('bench'), imageName: TEST_IMAGE, hostName: os.hostname() })
  const line = Buffer.from('x'.repeat(99))
  const now = BigInt(Date.now()) * 1_000_000n
  const records: LogRecord[] = Array.from({ length: BATCH }, (_, i) => ({ stream: 'stdout', time: timeHalves(now + BigInt(i)), line, complete: true, sequence: i, container: meta }))
  const key = Buffer.from(meta.id)
  return recordValues(records).map((value) => ({ key, value, timestamp: String(now / 1_000_000n) }))
}

// Sends the same encoded batch until `lines` messages are out, one awaited sendBatch at a time
// as the runner does with concurrency 1; CPU is this process's over the loop alone.
async function bareKafkajs (kafka: Kafka, admin: Admin, lines: number, messages: Message[]): Promise<Rate> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  const topic = uniqueName('bench-bare')
  await createTopic(admin, topic)
  await producer.connect()
  try {
    await producer.send({ topic, messages: [{ value: 'warm-up' }] })
    const cpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    for (let sent = 0; sent < lines; sent += BATCH) {
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: messages.slice(0, Math.min(BATCH, lines - sent)) }] })
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const used = process.cpuUsage(cpu)
    return { linesPerSec: lines / seconds, cpuMicrosPerLine: (used.user + used.system) / lines }
  } finally {
    await producer.disconnect()
  }
}

// Kafka's own producer, as its kafka-producer-perf-test.sh runs it. Its rate is its own count
// (from the first send to the last ack); its CPU is the whole JVM's, start-up included, read from
// the waiting shell's children's times.
async function javaProducer (brokers: string, admin: Admin, lines: number, recordBytes: number): Promise<Rate> {
  const { paths, jdk } = await prepareKafka()
  const topic = uniqueName('bench-java')
  await createTopic(admin, topic)
  const args = ['-Xmx512m', `-Dlog4j2.configurationFile=${join(paths.sourceDir, 'kafka', 'log4j2.properties')}`, '-cp', join(paths.kafkaLibs, '*'),
    'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(lines), '--record-size', String(recordBytes), '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', `batch.size=${BATCH_BYTES}`, 'compression.type=none']
  const run = await exec('sh', ['-c', '"$0" "$@"; code=$?; cat /proc/$$/stat; exit $code', jdk.java, ...args], { timeoutMs: 600_000 })
  const output = run.stdout.toString()
  if (run.code !== 0) throw new Error(`ProducerPerformance exited ${run.code ?? run.signal}:\n${run.output}`)
  const rate = /^\d+ records sent, ([\d.]+) records\/sec/m.exec(output)?.[1]
  const cpuSeconds = statCpuSeconds(output.trimEnd().split('\n').at(-1) ?? '', 'children')
  if (rate === undefined) throw new Error(`no rate in ProducerPerformance's output:\n${run.output}`)
  return { linesPerSec: Number(rate), cpuMicrosPerLine: cpuSeconds / lines * 1e6 }
}

// One more sink run, apart from the measured ones, with the plugin under the sampling profiler.
async function profiledRun (admin: Admin, lines: number, sinkOpts: (topic: string) => string[]): Promise<void> {
  const file = join(os.tmpdir(), `${uniqueName('logrelay-kafka')}.cpuprofile`)
  const plugin = new PluginProcess({ LOG_LEVEL: 'warn', LOGRELAY_CPU_PROFILE: file }, PROFILED)
  await plugin.start()
  try {
    const topic = uniqueName('bench-kafka-profiled')
    await createTopic(admin, topic)
    const rate = await measure(plugin, lines, sinkOpts(topic), async () => await highWatermark(admin, topic))
    showRate('sink, profiled:', rate, [rate])
  } finally {
    await plugin.cleanup()
  }
  if (!fs.existsSync(file)) throw new Error(`the profiled plugin wrote no ${file}`)
  printProfile(file)
}

export async function benchKafkaSink (brokers: string, lines = 200_000, rounds = 1): Promise<void> {
  const kafka = new Kafka({ clientId: 'logrelay-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const logrelay = new PluginProcess({ LOG_LEVEL: 'warn' })
  const drain = drainPlugin()
  await admin.connect()
  await logrelay.start()
  await drain.start()
  try {
    const messages = sinkMessages()
    const valueBytes = messages.reduce((sum, m) => sum + (m.value as Buffer).length, 0) / messages.length
    const recordBytes = Math.round(valueBytes) + KEY_BYTES
    const sinkOpts = (topic: string): string[] => ['store-max-bytes=1g', 'sink=kafka', `kafka-brokers=${brokers}`, `kafka-topic=${topic}`]
    // The plugin's producer (shared by every container with these brokers) connects on its first
    // batch: connected beforehand, as the bare producer is, so neither is timed.
    const warmUp = uniqueName('bench-kafka-warm-up')
    await createTopic(admin, warmUp)
    await dockerOk(['run', '--rm', '--network', 'none', '--log-driver', logrelay.name, ...sinkOpts(warmUp).flatMap((o) => ['--log-opt', o]), TEST_IMAGE, 'echo', 'warm-up'])
    while (await highWatermark(admin, warmUp) < 1) await new Promise((resolve) => setTimeout(resolve, 50))

    const rates = { java: [] as Rate[], bare: [] as Rate[], drain: [] as Rate[], storeOnly: [] as Rate[], sink: [] as Rate[] }
    for (let r = 0; r < rounds; r++) {
      rates.java.push(await javaProducer(brokers, admin, JAVA_RECORDS_PER_LINE * lines, recordBytes))
      rates.bare.push(await bareKafkajs(kafka, admin, lines, messages))
      rates.drain.push(await measure(drain, lines, []))
      rates.storeOnly.push(await measure(logrelay, lines, ['store-max-bytes=1g']))
      const topic = uniqueName('bench-kafka')
      await createTopic(admin, topic)
      rates.sink.push(await measure(logrelay, lines, sinkOpts(topic), async () => await highWatermark(admin, topic)))
    }
    const [java, bare, drained, storeOnly, sink] = [medianRate(rates.java), medianRate(rates.bare), medianRate(rates.drain), medianRate(rates.storeOnly), medianRate(rates.sink)]
    console.log(`\n## Kafka sink: ${lines.toLocaleString()} lines of 100 bytes from one container to a one-partition topic, records of ${recordBytes} bytes ` +
      `(${Math.round(valueBytes)} of JSON, ${KEY_BYTES} of key), acks=all (${rounds} round${rounds === 1 ? '' : 's'}, in turns, medians)\n` +
      `broker limit: Kafka's Java ProducerPerformance, ${JAVA_RECORDS_PER_LINE}x as many records, batch.size 1 MiB, its CPU the JVM's with its start; bare kafkajs: ${BATCH.toLocaleString()}-message sendBatch, one at a time`)
    showRate('broker limit (Java):', java, rates.java, 'records')
    showRate('bare kafkajs:', bare, rates.bare, 'messages')
    showRate('drain-only plugin:', drained, rates.drain)
    showRate('logrelay, no sink:', storeOnly, rates.storeOnly)
    showRate('logrelay, sink=kafka:', sink, rates.sink)
    console.log(`sink line rate / broker limit: ${(sink.linesPerSec / java.linesPerSec).toFixed(3)}; / bare kafkajs: ${(sink.linesPerSec / bare.linesPerSec).toFixed(3)}`)
    console.log(`sink plugin CPU per line / (bare kafkajs CPU per message + no-sink CPU per line): ` +
      `${(sink.cpuMicrosPerLine / (bare.cpuMicrosPerLine + storeOnly.cpuMicrosPerLine)).toFixed(3)} (target <= 1.2)`)
    if (process.env['BENCH_PROFILE'] === '1') await profiledRun(admin, lines, sinkOpts)
  } finally {
    await admin.disconnect()
    await logrelay.cleanup()
    await drain.cleanup()
  }
}
