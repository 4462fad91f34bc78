import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import kafkajs, { CompressionTypes, Kafka, logLevel, type KafkaMessage } from 'kafkajs'
import createSnappyCodec from 'kafkajs-snappy'
import { countingScript, docker, dockerOk, runToEnd as runContainer, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { consume as consumeTopic, topicCount as countTopic } from '../helpers/kafka-topic.js'
import { PluginProcess } from '../helpers/plugin.js'
import { makeCertificates, type Certificates } from '../services/certificates.js'
import { interruptServer } from '../services/services.js'
import { servicePaths } from '../services/paths.js'

// The Kafka sink through the real path: containers on the private dockerd, the plugin, a real
// broker, and a kafkajs consumer reading back what arrived.

// The consumer decompresses what the snappy test writes.
kafkajs.CompressionCodecs[CompressionTypes.Snappy] = createSnappyCodec

function brokersFromEnv (): string {
  const brokers = process.env['KAFKA_BROKERS']
  if (brokers === undefined || brokers === '') {
    assert.fail('KAFKA_BROKERS is not set: run the tests with `npm test` (or node dist/test/helpers/run-tests.js), which starts Kafka')
  }
  return brokers
}

const brokers = brokersFromEnv()
const kafka = new Kafka({ clientId: 'logrelay-kafka-sink-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
const plugin = new PluginProcess()

let tls: Certificates

before(async () => {
  tls = await makeCertificates()
  await plugin.start()
})
after(async () => {
  await plugin.cleanup()
  tls.remove()
})

function kafkaOpts (topic: string, extra: readonly string[] = []): string[] {
  return ['--log-opt', 'sink=kafka', '--log-opt', `kafka-brokers=${brokers}`, '--log-opt', `kafka-topic=${topic}`, ...extra]
}

function numberedLines (count: number, prefix = 'line'): string {
  return countingScript(count, `${prefix}-`)
}

async function runToEnd (driver: string, opts: readonly string[], script: string, name = uniqueName('kafka')): Promise<string> {
  return await runContainer(['--log-driver', driver, ...opts], script, name)
}

async function inspect (name: string, format: string): Promise<string> {
  return (await dockerOk(['inspect', '-f', format, name])).toString().trim()
}

const consume = async (topic: string, enough: (messages: readonly KafkaMessage[]) => boolean, timeoutMs?: number): Promise<KafkaMessage[]> =>
  await consumeTopic(kafka, topic, enough, timeoutMs)
const topicCount = async (topic: string): Promise<number> => await countTopic(kafka, topic)

const text = (m: KafkaMessage): string => m.value?.toString('utf8') ?? ''

interface JsonRecord {
  '@timestamp': string
  message: string
  stream: string
  container: { id: string, name: string, image: { name: string, id: string } }
  host: { name: string }
  tag?: string
  event: { sequence: number }
}

describe('the Kafka sink', () => {
  test('delivers 10,000 numbered lines of a container in order, once each, as the shared JSON record', { timeout: 300_000 }, async () => {
    const topic = uniqueName('lrt-order')
    const name = await runToEnd(plugin.name, kafkaOpts(topic, ['--log-opt', 'tag={{.Name}}/{{.ImageName}}']), numberedLines(10_000))
    const messages = await consume(topic, (m) => m.length >= 10_000)
    assert.equal(messages.length, 10_000)
    assert.equal(await topicCount(topic), 10_000, 'no message beyond the 10,000 lines')

    const id = await inspect(name, '{{.Id}}')
    const imageId = await inspect(name, '{{.Image}}')
    const records = messages.map((m) => JSON.parse(text(m)) as JsonRecord)
    assert.deepEqual(records.map((r) => r.message), Array.from({ length: 10_000 }, (_, i) => `line-${i + 1}`))
    for (const [i, r] of records.entries()) {
      assert.match(r['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/)
      assert.equal(r.stream, 'stdout')
      assert.deepEqual(r.container.id, id)
      assert.equal(r.container.name, name)
      assert.deepEqual(r.container.image, { name: TEST_IMAGE, id: imageId })
      assert.equal(r.host.name, os.hostname())
      assert.equal(r.tag, `${name}/${TEST_IMAGE}`)
      if (i > 0) assert.ok(r.event.sequence > (records[i - 1]?.event.sequence ?? Infinity), 'event.sequence grows')
      const m = messages[i]
      assert.equal(m?.key?.toString(), id, 'keyed by the container ID')
      assert.equal(m?.timestamp, String(Date.parse(`${r['@timestamp'].slice(0, 23)}Z`)), 'the Kafka timestamp is the line\'s time')
    }
  })

  test('routes two containers to the topics a template renders from their labels, with defaults from the plugin env', { timeout: 300_000 }, async () => {
    const prefix = uniqueName('lrt-route')
    const byEnv = new PluginProcess({ LOGRELAY_SINK: 'kafka', LOGRELAY_KAFKA_BROKERS: brokers, LOGRELAY_KAFKA_TOPIC: `${prefix}.{{index .ContainerLabels "team"}}` })
    await byEnv.start()
    try {
      await Promise.all(['red', 'blue'].map(async (team) => await runToEnd(byEnv.name, ['--label', `team=${team}`], numberedLines(500, team))))
      for (const team of ['red', 'blue']) {
        const messages = await consume(`${prefix}.${team}`, (m) => m.length >= 500)
        assert.deepEqual(messages.map((m) => (JSON.parse(text(m)) as JsonRecord).message), Array.from({ length: 500 }, (_, i) => `${team}-${i + 1}`))
        assert.equal(await topicCount(`${prefix}.${team}`), 500)
      }
    } finally {
      await byEnv.cleanup()
    }
  })

  test('kafka-format=raw sends the line\'s bytes alone, invalid UTF-8 included', { timeout: 300_000 }, async () => {
    const topic = uniqueName('lrt-raw')
    await runToEnd(plugin.name, kafkaOpts(topic, ['--log-opt', 'kafka-format=raw']), String.raw`echo plain; printf '\377\376 raw\n'; echo; printf 'h\303\251llo\n'`)
    const messages = await consume(topic, (m) => m.length >= 4)
    assert.deepEqual(messages.map((m) => m.value), [Buffer.from('plain'), Buffer.from([0xff, 0xfe, 0x20, 0x72, 0x61, 0x77]), Buffer.from(''), Buffer.from('héllo')])
  })

  test('kafka-compression=gzip and snappy write compressed record batches that read back whole', { timeout: 300_000 }, async () => {
    for (const [codec, id] of [['gzip', 1], ['snappy', 2]] as const) {
      const topic = uniqueName(`lrt-${codec}`)
      await runToEnd(plugin.name, kafkaOpts(topic, ['--log-opt', `kafka-compression=${codec}`]), numberedLines(3000))
      const messages = await consume(topic, (m) => m.length >= 3000)
      assert.deepEqual(messages.map((m) => (JSON.parse(text(m)) as JsonRecord).message), Array.from({ length: 3000 }, (_, i) => `line-${i + 1}`))
      // The consumer decompresses transparently, so the proof is in the broker's own log
      // segment: a record batch's attributes hold its codec (bits 0-2), 21 bytes in.
      const segment = path.join(servicePaths().kafkaRunDir, 'data', `${topic}-0`, '00000000000000000000.log')
      const head = fs.readFileSync(segment).subarray(0, 23)
      assert.equal(head.readInt16BE(21) & 0x7, id, `${codec} codec in the first record batch`)
    }
  })

  test('holds lines through a 30 s broker outage and delivers all of them; containers keep running and new ones start', { timeout: 600_000 }, async (t) => {
    const topic = uniqueName('lrt-outage')
    // About 2,000 lines a second until told to stop, so it writes before, through and after
    // the outage whatever the outage's length.
    // Its last line says how many came before it.
    const paced = 'i=0; while [ ! -e /stop ]; do i=$((i+1)); echo n-$i; [ $((i % 200)) -eq 0 ] && sleep 0.1; done; echo end-$i'
    const name = uniqueName('outage')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name, ...kafkaOpts(topic), TEST_IMAGE, 'sh', '-c', paced])
    await consume(topic, (m) => m.length >= 2000)

    const outage = interruptServer('kafka', 30_000)
    while (await portOpen(9092)) await sleep(200)
    // A container started while the broker is down starts all the same.
    const during = uniqueName('during')
    const duringTopic = uniqueName('lrt-during')
    await dockerOk(['run', '-d', '--name', during, '--network', 'none', '--log-driver', plugin.name, ...kafkaOpts(duringTopic), TEST_IMAGE, 'sh', '-c', numberedLines(1000, 'd')])
    await outage

    assert.equal(await inspect(name, '{{.State.Running}}'), 'true', 'the writing container is still running after the outage')
    // Delivery resumes while it goes on writing.
    const atRecovery = await topicCount(topic)
    while (await topicCount(topic) < atRecovery + 2000) await sleep(500)
    await dockerOk(['exec', name, 'sh', '-c', ': > /stop'])
    assert.equal((await docker(['wait', name], 300_000)).stdout.toString().trim(), '0')
    assert.equal((await docker(['wait', during], 300_000)).stdout.toString().trim(), '0')
    // The local store gets every line the container wrote; each must be in Kafka. It may lag
    // the container's exit: while Kafka's backlog drains, the queue is full and the FIFO waits.
    let total = NaN
    const deadline = Date.now() + 120_000
    while (Number.isNaN(total) && Date.now() < deadline) {
      total = Number(/^end-(\d+)$/m.exec((await dockerOk(['logs', '--tail', '1', name])).toString())?.[1])
      if (Number.isNaN(total)) await sleep(500)
    }
    assert.ok(total > 2000, `the container wrote ${total} lines`)

    const expected = Array.from({ length: total }, (_, i) => `n-${i + 1}`)
    const seen = new Set<string>()
    let read = 0
    let attempt: readonly KafkaMessage[] | undefined
    let messages: KafkaMessage[]
    try {
      messages = await consume(topic, (m) => {
        // A consumer that fails (the leader election after the outage) is retried with a
        // fresh read from the beginning: count that read alone, or lines seen by the failed
        // attempt would be credited to a read that never got them.
        if (m !== attempt) {
          attempt = m
          read = 0
          seen.clear()
        }
        for (; read < m.length; read++) {
          const message = m[read]
          const line = message === undefined ? '' : (JSON.parse(text(message)) as JsonRecord).message
          if (line.startsWith('n-')) seen.add(line)
        }
        return seen.size >= total
      }, 300_000)
    } catch (err) {
      // Say which: lines lost at the start mean the broker lost its data (test/services wipes
      // a server whose pid is dead, so another run's ensureServices during the outage can).
      const missing = expected.filter((l) => !seen.has(l))
      assert.fail(`${missing.length} of ${total} lines never reached Kafka, from ${missing[0] ?? '-'} to ${missing.at(-1) ?? '-'} (${(err as Error).message})`)
    }
    const firsts = [...new Set(messages.map((m) => (JSON.parse(text(m)) as JsonRecord).message))].filter((l) => l.startsWith('n-'))
    assert.equal(firsts.length, total, 'no line lost')
    assert.deepEqual(firsts, expected, 'every line, first deliveries in order')
    const stored = await topicCount(topic)
    // The end line is in the topic too.
    t.diagnostic(`outage: ${total} lines written, ${stored - 1} of them in the topic, ${stored - 1 - total} duplicates (at least once)`)

    const duringLines = (await consume(duringTopic, (m) => m.length >= 1000)).map((m) => (JSON.parse(text(m)) as JsonRecord).message)
    assert.deepEqual([...new Set(duringLines)].sort(), Array.from({ length: 1000 }, (_, i) => `d-${i + 1}`).sort())
    assert.match(plugin.output, /batch will be retried/, 'the outage was seen and retried')
    assert.doesNotMatch(plugin.output, /records dropped/, 'nothing dropped')
  })

  test('re-sends a batch over the topic\'s max.message.bytes in smaller requests, and drops only a line too large by itself', { timeout: 300_000 }, async () => {
    const topic = uniqueName('lrt-large')
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }
    // Its own plugin: the drop this test provokes must not show in the other tests' log.
    const own = new PluginProcess()
    await own.start()
    try {
      await runToEnd(own.name, kafkaOpts(topic), `${numberedLines(50, 'small')}; head -c 6000 /dev/zero | tr '\\0' x; echo; echo after`)
      const messages = await consume(topic, (m) => m.some((x) => text(x).includes('"after"')))
      assert.deepEqual(messages.map((m) => (JSON.parse(text(m)) as JsonRecord).message), [...Array.from({ length: 50 }, (_, i) => `small-${i + 1}`), 'after'])
      assert.match(own.output, /"reason":"kafka MESSAGE_TOO_LARGE[^"]*","dropped":1,/)
    } finally {
      await own.cleanup()
    }
  })

  test('fails docker run for an invalid kafka option, naming it, and never echoes a secret', { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrt-kafka-'))
    const notPem = path.join(dir, 'ca.pem')
    fs.writeFileSync(notPem, 'not a certificate')
    const cases: { opts: string[], message: RegExp }[] = [
      { opts: ['--log-opt', 'sink=kafka'], message: /kafka-brokers is required/ },
      { opts: [...kafkaOpts('t'), '--log-opt', 'kafka-compression=lz4'], message: /invalid log-opt kafka-compression="lz4".*expected one of none, gzip, snappy/ },
      { opts: [...kafkaOpts('t'), '--log-opt', 'kafka-brokers=kafka'], message: /invalid log-opt kafka-brokers="kafka".*host:port/ },
      { opts: kafkaOpts('bad topic {{.Name}}'), message: /invalid log-opt kafka-topic="bad topic \{\{.Name\}\}" \(renders to "bad topic / },
      { opts: kafkaOpts('{{.Nope}}'), message: /invalid log-opt kafka-topic="\{\{.Nope\}\}"/ },
      { opts: [...kafkaOpts('t'), '--log-opt', 'kafka-tls-ca-file=/no/such/ca.pem'], message: /cannot read log-opt kafka-tls-ca-file="\/no\/such\/ca.pem" \(ENOENT\)/ },
      { opts: [...kafkaOpts('t'), '--log-opt', `kafka-tls-ca-file=${notPem}`], message: /invalid log-opt kafka-tls-ca-file=".*ca.pem" \(no PEM certificate in it\): expected a readable PEM file of CA certificates/ },
      { opts: [...kafkaOpts('t'), '--log-opt', `kafka-tls-cert-file=${tls.clientCertFile}`], message: /kafka-tls-cert-file and kafka-tls-key-file: expected both/ },
      { opts: [...kafkaOpts('t'), '--log-opt', `kafka-tls-cert-file=${tls.clientCertFile}`, '--log-opt', `kafka-tls-key-file=${tls.caKeyFile}`], message: /invalid log-opt kafka-tls-cert-file=".*client.pem" \/ kafka-tls-key-file=".*ca-key.pem" \(.*\): expected PEM, the key matching/ },
      { opts: [...kafkaOpts('t'), '--log-opt', 'kafka-sasl-mechanism=scram-sha-512', '--log-opt', 'kafka-sasl-username=u', '--log-opt', 'kafka-sasl-password-file=/no/such/secret'], message: /cannot read log-opt kafka-sasl-password-file="\/no\/such\/secret" \(ENOENT\)/ },
      { opts: [...kafkaOpts('t'), '--log-opt', 'kafka-sasl-password=hunter2-secret'], message: /invalid log-opt kafka-sasl-mechanism="none" \(SASL credentials are set\)/ },
      { opts: [...kafkaOpts('t'), '--log-opt', 'kafka-sasl-mechanism=plain', '--log-opt', 'kafka-sasl-password=hunter2-secret'], message: /kafka-sasl-username is required/ },
    ]
    try {
      for (const { opts, message } of cases) {
        const run = await docker(['run', '--rm', '--network', 'none', '--log-driver', plugin.name, ...opts, TEST_IMAGE, 'true'])
        assert.notEqual(run.code, 0, `docker run ${opts.join(' ')} fails`)
        assert.match(run.stderr, message)
        assert.doesNotMatch(run.stderr, /hunter2/)
      }
      assert.doesNotMatch(plugin.output, /hunter2/, 'the plugin never logs the password')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('starts a container with valid TLS and SASL options while no broker answers', { timeout: 120_000 }, async () => {
    // StartLogging must do no network I/O: an unreachable broker never refuses a container.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrt-kafka-'))
    const secret = path.join(dir, 'password')
    fs.writeFileSync(secret, 'hunter2-secret\n')
    try {
      const name = await runToEnd(plugin.name, [
        '--log-opt', 'sink=kafka', '--log-opt', `kafka-brokers=127.0.0.1:${await closedPort()}`, '--log-opt', 'kafka-topic=unreachable',
        '--log-opt', `kafka-tls-ca-file=${tls.caFile}`, '--log-opt', `kafka-tls-cert-file=${tls.clientCertFile}`, '--log-opt', `kafka-tls-key-file=${tls.clientKeyFile}`,
        '--log-opt', 'kafka-sasl-mechanism=scram-sha-256', '--log-opt', 'kafka-sasl-username=logrelay', '--log-opt', `kafka-sasl-password-file=${secret}`,
      ], 'echo still logged locally')
      assert.equal((await dockerOk(['logs', name])).toString(), 'still logged locally\n')
      assert.doesNotMatch(plugin.output, /hunter2/, 'the plugin never logs the password')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

function portOpen (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(port, '127.0.0.1')
    conn.once('connect', () => { conn.destroy(); resolve(true) })
    conn.once('error', () => resolve(false))
  })
}

// A loopback port nothing listens on: one the kernel just handed out and took back.
function closedPort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}
