import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Kafka, logLevel } from 'kafkajs'
import { countingScript, dockerOk, runToEnd, uniqueName } from '../helpers/docker.js'
import { consume, messagesOf, topicCount } from '../helpers/kafka-topic.js'
import { PluginProcess } from '../helpers/plugin.js'
import { waitUntil } from '../helpers/process.js'
import { SASL_USER, startSecureKafka, type SecureKafka } from '../services/secure-kafka.js'

// The Kafka sink's TLS and SASL options against a real broker that demands them
// (test/services/secure-kafka.ts), through the private dockerd: lines delivered over each way in,
// and a wrong password or an untrusted certificate reported once, retried slowly, nothing lost.

let broker: SecureKafka
let reader: Kafka
let secrets: string
const plugin = new PluginProcess()

before(async () => {
  broker = await startSecureKafka()
  reader = new Kafka({ clientId: 'logrelay-secure-test', brokers: [broker.plaintext], logLevel: logLevel.NOTHING })
  secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'lrt-secure-'))
  await plugin.start()
})
after(async () => {
  await plugin.cleanup()
  await broker?.stop()
  if (secrets !== undefined) fs.rmSync(secrets, { recursive: true, force: true })
})

function passwordFile (password: string): string {
  const file = path.join(secrets, uniqueName('password'))
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600 })
  return file
}

function opts (brokers: string, topic: string, extra: Record<string, string>): string[] {
  return Object.entries({ sink: 'kafka', 'kafka-brokers': brokers, 'kafka-topic': topic, ...extra }).flatMap(([k, v]) => ['--log-opt', `${k}=${v}`])
}

const numbered = (count: number, prefix: string): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`)

async function delivers (driver: string, brokers: string, extra: Record<string, string>, count = 10_000): Promise<void> {
  const topic = uniqueName('lrt-secure')
  await runToEnd(['--log-driver', driver, ...opts(brokers, topic, extra)], countingScript(count, 'line-'))
  const messages = await consume(reader, topic, (m) => m.length >= count)
  assert.deepEqual(messagesOf(messages), numbered(count, 'line-'))
  assert.equal(await topicCount(reader, topic), count, 'each line once')
}

// The lines of `output` that are this one refusal's error, parsed.
function refusals (output: string): Record<string, unknown>[] {
  return output.split('\n').filter((l) => l.includes('LOGRELAY_ERR_KAFKA_REFUSED')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

const retriedLines = (output: string): number => output.split('\n').filter((l) => l.includes('batch will be retried')).length

describe('the Kafka sink with TLS and SASL', () => {
  test('delivers 10,000 lines over TLS, trusting the broker through kafka-tls-ca-file', { timeout: 300_000 }, async () => {
    await delivers(plugin.name, broker.tls, { 'kafka-tls-ca-file': broker.certificates.caFile })
  })

  test('delivers 10,000 lines over mutual TLS, with a client certificate the broker requires', { timeout: 300_000 }, async () => {
    await delivers(plugin.name, broker.mutualTls, {
      'kafka-tls-ca-file': broker.certificates.caFile,
      'kafka-tls-cert-file': broker.certificates.clientCertFile,
      'kafka-tls-key-file': broker.certificates.clientKeyFile,
    })
  })

  test('delivers 10,000 lines with SASL PLAIN over TLS', { timeout: 300_000 }, async () => {
    await delivers(plugin.name, broker.saslTls, {
      'kafka-tls-ca-file': broker.certificates.caFile,
      'kafka-sasl-mechanism': 'plain',
      'kafka-sasl-username': SASL_USER,
      'kafka-sasl-password-file': passwordFile(broker.password),
    })
  })

  test('delivers 10,000 lines with SASL SCRAM-SHA-512', { timeout: 300_000 }, async () => {
    await delivers(plugin.name, broker.scram, {
      'kafka-sasl-mechanism': 'scram-sha-512',
      'kafka-sasl-username': SASL_USER,
      'kafka-sasl-password-file': passwordFile(broker.password),
    })
    assert.doesNotMatch(plugin.output, new RegExp(broker.password), 'the password is never logged')
  })

  // Its own plugin each, so its log holds this refusal alone.
  async function refusedThenFixed (brokers: string, extra: Record<string, string>, cause: RegExp, fix: () => Promise<void>): Promise<void> {
    const own = new PluginProcess()
    await own.start()
    try {
      const topic = uniqueName('lrt-refused')
      const name = await runToEnd(['--log-driver', own.name, ...opts(brokers, topic, extra)], countingScript(1000, 'line-'))
      await waitUntil('the refusal in the plugin log', () => refusals(own.output).length > 0, 120_000)
      // Long enough for a fast retry loop to show: the sink's next attempt is 30 s away.
      await sleep(10_000)
      const [error, ...more] = refusals(own.output)
      assert.equal(more.length, 0, `one refusal error, not one per retry:\n${own.output}`)
      assert.equal(error?.['level'], 50, 'logged as an error')
      assert.equal(error?.['sink'], 'kafka')
      assert.equal(error?.['broker'], brokers, 'names the broker')
      assert.match(String(error?.['cause']), cause)
      assert.match(String(error?.['msg']), new RegExp(`the Kafka broker ${brokers} refused logrelay .*retrying every 30 s`))
      assert.ok(retriedLines(own.output) <= 1, `no stream of retries:\n${own.output}`)
      // Everything is still in the local store meanwhile.
      assert.deepEqual((await dockerOk(['logs', name])).toString().trimEnd().split('\n'), numbered(1000, 'line-'))

      await fix()
      const messages = await consume(reader, topic, (m) => m.length >= 1000, 120_000)
      assert.deepEqual(messagesOf(messages), numbered(1000, 'line-'), 'every line once fixed, in order')
      assert.match(own.output, /the Kafka brokers accept logrelay again/)
      assert.doesNotMatch(own.output, /records dropped/)
      assert.equal(refusals(own.output).length, 1, 'still the one error')
    } finally {
      await own.cleanup()
    }
  }

  test('a wrong SCRAM password is one clear error naming the sink, the broker and the cause; retried slowly, nothing dropped', { timeout: 300_000 }, async () => {
    // A user the broker does not know yet, until the operator creates it with this password.
    const user = uniqueName('late')
    const password = 'right-once-created'
    await refusedThenFixed(broker.scram, {
      'kafka-sasl-mechanism': 'scram-sha-512',
      'kafka-sasl-username': user,
      'kafka-sasl-password-file': passwordFile(password),
    }, /authentication failed.*invalid credentials/i, async () => await broker.setScramPassword(user, password))
  })

  test('an untrusted broker certificate is one clear error naming the sink, the broker and the cause; retried slowly, nothing dropped', { timeout: 300_000 }, async () => {
    await refusedThenFixed(broker.untrusted, { 'kafka-tls-ca-file': broker.certificates.caFile },
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE/, async () => await broker.fixUntrusted())
  })
})
