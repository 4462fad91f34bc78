import os from 'node:os'
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs'
import { timeHalves, type LogRecord } from '../src/record.js'
import { kafkaSink, recordValues } from '../sinks/kafka.js'
import { dockerOk, TEST_IMAGE, uniqueName } from '../test/helpers/docker.js'
import { PluginProcess } from '../test/helpers/plugin.js'
import { containerMeta } from '../test/helpers/records.js'
import { drainPlugin, linesScript, median, timedRun } from './core.js'

// Issue 4's benchmark: lines/s from a container through dockerd and logrelay into Kafka, until
// the last line is in the topic, next to the drain-only plugin (what dockerd costs by itself)
// and to a bare kafkajs producer sending the same JSON records in the same batches, acks=all
// (what Kafka costs by itself). Printed, never asserted.

const BATCH = kafkaSink.batchDefaults.maxRecords

async function topicCount (kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0)
  } catch {
    return 0 // not created yet
  } finally {
    await admin.disconnect()
  }
}

async function createTopic (kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

async function waitForCount (kafka: Kafka, topic: string, count: number): Promise<void> {
  const deadline = Date.now() + 600_000
  while (await topicCount(kafka, topic) < count) {
    if (Date.now() > deadline) throw new Error(`${topic} did not reach ${count} messages in 10 minutes`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function sinkOpts (brokers: string, topic: string): string[] {
  return ['--log-opt', 'sink=kafka', '--log-opt', `kafka-brokers=${brokers}`, '--log-opt', `kafka-topic=${topic}`]
}

// docker run to the moment the topic holds every line. As for the bare producer, the topic
// exists and the plugin's producer (shared by every container with these brokers) is
// connected beforehand, so neither is timed.
async function timedSink (kafka: Kafka, plugin: PluginProcess, brokers: string, lines: number): Promise<number> {
  const warmUp = uniqueName('bench-kafka-warm-up')
  await dockerOk(['run', '--rm', '--network', 'none', '--log-driver', plugin.name, ...sinkOpts(brokers, warmUp), TEST_IMAGE, 'echo', 'warm-up'])
  await waitForCount(kafka, warmUp, 1)
  const topic = uniqueName('bench-kafka')
  await createTopic(kafka, topic)
  const start = process.hrtime.bigint()
  await dockerOk(['run', '-d', '--name', uniqueName('bench'), '--network', 'none', '--log-driver', plugin.name, ...sinkOpts(brokers, topic),
    TEST_IMAGE, 'sh', '-c', linesScript(lines)])
  await waitForCount(kafka, topic, lines)
  return Number(process.hrtime.bigint() - start) / 1e9
}

// The same records the sink writes for one container (100-byte lines, as linesScript), sent
// one batch at a time as the runner does with concurrency 1.
async function timedBare (kafka: Kafka, lines: number): Promise<number> {
  const meta = containerMeta({ name: 'bench', imageName: TEST_IMAGE, hostName: os.hostname() })
  const line = Buffer.from('x'.repeat(99))
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  const topic = uniqueName('bench-bare')
  await createTopic(kafka, topic)
  await producer.connect()
  try {
    await producer.send({ topic, messages: [{ value: 'warm-up' }] })
    const start = process.hrtime.bigint()
    const now = BigInt(Date.now()) * 1_000_000n
    for (let sent = 0; sent < lines; sent += BATCH) {
      const records: LogRecord[] = []
      for (let i = sent; i < Math.min(lines, sent + BATCH); i++) records.push({ stream: 'stdout', time: timeHalves(now + BigInt(i)), line, complete: true, sequence: i, container: meta })
      const values = recordValues(records)
      const messages: Message[] = records.map((_, i) => ({ key: meta.id, value: values[i] as Buffer, timestamp: String((now + BigInt(sent + i)) / 1_000_000n) }))
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] })
    }
    return Number(process.hrtime.bigint() - start) / 1e9
  } finally {
    await producer.disconnect()
  }
}

export async function benchKafkaSink (brokers: string, lines = 200_000, rounds = 1): Promise<void> {
  const kafka = new Kafka({ clientId: 'logrelay-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
  const logrelay = new PluginProcess()
  const drain = drainPlugin()
  await logrelay.start()
  await drain.start()
  try {
    console.log(`\n## Kafka sink: ${lines.toLocaleString()} lines of 100 bytes from one container to one topic (${rounds} round${rounds === 1 ? '' : 's'}, in turns)`)
    const times = { drain: [] as number[], sink: [] as number[], bare: [] as number[] }
    for (let r = 0; r < rounds; r++) {
      times.drain.push((await timedRun(drain.name, linesScript(lines))).seconds)
      times.sink.push(await timedSink(kafka, logrelay, brokers, lines))
      times.bare.push(await timedBare(kafka, lines))
    }
    const rate = (seconds: number): number => Math.round(lines / seconds)
    const [d, s, b] = [median(times.drain), median(times.sink), median(times.bare)]
    const runs = (values: readonly number[]): string => values.map((t) => t.toFixed(2)).join(', ')
    console.log(`drain-only plugin (container to plugin): ${rate(d).toLocaleString()} lines/s (${d.toFixed(2)} s)  runs: ${runs(times.drain)}`)
    console.log(`logrelay kafka sink (container to topic): ${rate(s).toLocaleString()} lines/s (${s.toFixed(2)} s)  runs: ${runs(times.sink)}`)
    console.log(`bare kafkajs producer, batches of ${BATCH}, acks=all: ${rate(b).toLocaleString()} lines/s (${b.toFixed(2)} s)  runs: ${runs(times.bare)}`)
    console.log(`ratio sink/bare: ${(rate(s) / rate(b)).toFixed(3)} (target >= 0.8)`)
  } finally {
    await logrelay.cleanup()
    await drain.cleanup()
  }
}
