import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exec, stopPid } from '../helpers/process.js'
import { makeCertificates, type Certificates } from './certificates.js'
import { startKafkaNode } from './kafka.js'
import { freePorts } from './loopback.js'
import { prepareKafka } from './services.js'

// A broker of the test's own with every way in the Kafka sink offers, each a listener on its own
// loopback port: TLS, mutual TLS, SASL PLAIN over TLS, SCRAM (SHA-256 and SHA-512), and TLS with
// a certificate from a CA the client does not trust. Its certificates are made at start
// (certificates.ts); its SCRAM users are created through the broker's admin API, as an operator
// would with kafka-configs. A plain listener without authentication serves the test's own
// clients (reading back, changing a password).

export const SASL_USER = 'logrelay'

export interface SecureKafka {
  // host:port of each listener.
  readonly plaintext: string
  readonly tls: string
  readonly mutualTls: string
  readonly saslTls: string
  readonly scram: string
  readonly untrusted: string
  readonly certificates: Certificates
  // SASL_USER's password, for PLAIN and SCRAM.
  readonly password: string
  readonly pid: number
  // Creates the user, or changes its password, for both SCRAM mechanisms: the broker takes it at once.
  setScramPassword: (user: string, password: string) => Promise<void>
  // Gives the UNTRUSTED listener the certificate from the trusted CA, as an operator fixing it would.
  fixUntrusted: () => Promise<void>
  stop: () => Promise<void>
}

const LISTENERS = ['INTERNAL', 'CONTROLLER', 'TLS', 'MTLS', 'SASL_TLS', 'SCRAM', 'UNTRUSTED'] as const

export async function startSecureKafka (): Promise<SecureKafka> {
  const context = await prepareKafka()
  const certificates = await makeCertificates()
  const runDir = mkdtempSync(join(tmpdir(), 'logrelay-secure-kafka-'))
  const password = randomBytes(12).toString('hex')
  const portList = await freePorts(LISTENERS.length)
  const port = Object.fromEntries(LISTENERS.map((name, i) => [name, portList[i] as number])) as Record<typeof LISTENERS[number], number>
  const address = (name: typeof LISTENERS[number]): string => `127.0.0.1:${port[name]}`
  const listeners = LISTENERS.map((name) => `${name}://${address(name)}`).join(',')
  const advertised = LISTENERS.filter((name) => name !== 'CONTROLLER').map((name) => `${name}://${address(name)}`).join(',')
  const properties = `
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${address('CONTROLLER')}
controller.listener.names=CONTROLLER
listeners=${listeners}
advertised.listeners=${advertised}
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,TLS:SSL,MTLS:SSL,SASL_TLS:SASL_SSL,SCRAM:SASL_PLAINTEXT,UNTRUSTED:SSL
log.dirs=@DATA_DIR@
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=true

ssl.keystore.type=PEM
ssl.keystore.location=${certificates.brokerKeystoreFile}
ssl.truststore.type=PEM
ssl.truststore.location=${certificates.caFile}
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
listener.name.untrusted.ssl.keystore.type=PEM
listener.name.untrusted.ssl.keystore.location=${certificates.untrustedKeystoreFile}

listener.name.sasl_tls.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_tls.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${password}";
listener.name.scram.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.scram.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
`
  let pid: number | undefined
  const stop = async (): Promise<void> => {
    if (pid !== undefined) await stopPid(pid, 20_000)
    rmSync(runDir, { recursive: true, force: true })
    certificates.remove()
  }
  // kafka-configs, the operator's tool, through the admin API on the plain listener.
  const configs = async (what: string, args: readonly string[]): Promise<void> => {
    const classpath = join(context.paths.kafkaLibs, '*')
    const logConfig = `-Dlog4j2.configurationFile=${join(context.paths.sourceDir, 'kafka', 'log4j2.properties')}`
    const result = await exec(context.jdk.java, [logConfig, '-cp', classpath, 'org.apache.kafka.tools.ConfigCommand',
      '--bootstrap-server', address('INTERNAL'), '--alter', ...args], { timeoutMs: 120_000 })
    if (result.code !== 0) throw new Error(`kafka-configs could not ${what} (exit ${result.code ?? result.signal}):\n${result.output}`)
  }
  // One request may alter a user's credentials once, so each mechanism gets its own.
  const setScramPassword = async (user: string, secret: string): Promise<void> => {
    await Promise.all(['SCRAM-SHA-256', 'SCRAM-SHA-512'].map(async (mechanism) =>
      await configs(`set ${user}'s ${mechanism} credential`, ['--entity-type', 'users', '--entity-name', user, '--add-config', `${mechanism}=[iterations=4096,password=${secret}]`])))
  }
  // The broker reloads a listener's keystore when its location changes (dynamic broker config).
  const fixUntrusted = async (): Promise<void> => {
    await configs('give the UNTRUSTED listener the trusted certificate', ['--entity-type', 'brokers', '--entity-name', '1',
      '--add-config', `listener.name.untrusted.ssl.keystore.location=${certificates.brokerKeystoreFile}`])
  }
  try {
    pid = await startKafkaNode(context, {
      runDir,
      properties,
      marker: `-Dlogrelay.test.service=${runDir}`,
      probe: address('INTERNAL'),
      standalone: true,
      label: 'the TLS and SASL test broker',
    })
    await setScramPassword(SASL_USER, password)
  } catch (err) {
    await stop()
    throw err
  }
  return {
    plaintext: address('INTERNAL'),
    tls: address('TLS'),
    mutualTls: address('MTLS'),
    saslTls: address('SASL_TLS'),
    scram: address('SCRAM'),
    untrusted: address('UNTRUSTED'),
    certificates,
    password,
    pid,
    setScramPassword,
    fixUntrusted,
    stop,
  }
}
