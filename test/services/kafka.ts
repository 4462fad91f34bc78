import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { exec, isAlive, spawnDetached, stopPid } from '../helpers/process.js'
import { ServicesError, ServicesErrorCode } from './errors.js'
import { markerOf, type ManagedService, type StartContext } from './managed-service.js'
import { DEFAULT_KAFKA_BROKERS, KAFKA_CONTROLLER_PORT, KAFKA_PORT, type ServicePaths } from './paths.js'
import { tailFile, waitOrFail } from './processes.js'

const READY_TIMEOUT_MS = 120_000

// Whether a Kafka broker answers kafkajs's admin client (metadata and cluster description).
export async function kafkaAnswers (brokers: string): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'logrelay-services-probe',
    brokers: brokers.split(',').map((broker) => broker.trim()),
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    return cluster.brokers.length > 0
  } catch {
    return false
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

// Kafka's Uuid: 16 random bytes, base64url without padding. One starting with '-' would be read
// as an option by the storage tool, so Kafka itself never hands one out.
export function newClusterId (): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function startFailed (what: string, logFile: string): ServicesError {
  const tail = tailFile(logFile)
  return new ServicesError(
    ServicesErrorCode.START_FAILED,
    `Kafka ${what}; the end of ${logFile}:\n${tail === '' ? '(empty)' : tail}`,
  )
}

export interface KafkaNode {
  // Holds the data directory, the properties file and kafka.log.
  readonly runDir: string
  // The whole server.properties; @DATA_DIR@ stands for the node's data directory.
  readonly properties: string
  // On the JVM's command line, so the pid can be recognised as ours (markerOf).
  readonly marker: string
  // A listener kafkajs can probe without TLS or SASL, to tell when the node is ready.
  readonly probe: string
  // Formats a lone controller as its own quorum (KIP-853's --standalone); a cluster lists its
  // voters in controller.quorum.voters instead, and all its nodes share one cluster id.
  readonly standalone: boolean
  readonly clusterId?: string
  readonly label: string
}

// Formats a node's storage unless a previous start did (a restart keeps its data), starts it
// and resolves with its pid once it answers on its probe listener.
export async function startKafkaNode ({ paths, jdk, log }: StartContext, node: KafkaNode): Promise<number> {
  const dataDir = join(node.runDir, 'data')
  const logFile = join(node.runDir, 'kafka.log')
  const properties = join(node.runDir, 'server.properties')
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(properties, node.properties.replaceAll('@DATA_DIR@', dataDir))
  const classpath = join(paths.kafkaLibs, '*')
  const logConfig = `-Dlog4j2.configurationFile=${join(paths.sourceDir, 'kafka', 'log4j2.properties')}`

  if (!existsSync(join(dataDir, 'meta.properties'))) {
    const format = await exec(
      jdk.java,
      [logConfig, '-cp', classpath, 'kafka.tools.StorageTool', 'format', ...(node.standalone ? ['--standalone'] : []),
        '-t', node.clusterId ?? newClusterId(), '-c', properties],
      { timeoutMs: 120_000 },
    )
    if (format.code !== 0) {
      writeFileSync(logFile, format.output)
      throw startFailed(`storage could not be formatted (exit ${format.code ?? format.signal})`, logFile)
    }
  }

  log(`services: starting ${node.label} (Kafka ${paths.kafkaVersion}) on ${node.probe}`)
  const child = await spawnDetached(
    jdk.java,
    ['-Xms512m', '-Xmx512m', '-XX:+UseG1GC', '-Djava.awt.headless=true', logConfig, node.marker, '-cp', classpath, 'kafka.Kafka', properties],
    { cwd: node.runDir, logFile },
  )
  writeFileSync(join(node.runDir, 'pid'), `${child.pid}\n`)
  const answers = async (): Promise<boolean> => {
    if (!isAlive(child.pid)) throw startFailed('exited while starting', logFile)
    return await kafkaAnswers(node.probe)
  }
  await waitOrFail(`${node.label} to answer`, answers, READY_TIMEOUT_MS, async () => {
    await stopPid(child.pid, 20_000)
    return startFailed(`did not answer on ${node.probe} within ${READY_TIMEOUT_MS / 1000} s`, logFile)
  })
  return child.pid
}

export function kafkaService (paths: ServicePaths): ManagedService {
  const runDir = paths.kafkaRunDir
  const service: ManagedService = {
    name: 'kafka',
    label: 'Kafka',
    envVar: 'KAFKA_BROKERS',
    address: DEFAULT_KAFKA_BROKERS,
    ports: [KAFKA_PORT, KAFKA_CONTROLLER_PORT],
    runDir,
    stopGraceMs: 20_000,
    answers: () => kafkaAnswers(DEFAULT_KAFKA_BROKERS),
    // Single-node KRaft: this one controller is the whole quorum.
    start: async (context: StartContext): Promise<number> => await startKafkaNode(context, {
      runDir,
      properties: readFileSync(join(paths.sourceDir, 'kafka', 'server.properties'), 'utf8'),
      marker: markerOf(service),
      probe: DEFAULT_KAFKA_BROKERS,
      standalone: true,
      label: 'Kafka',
    }),
  }
  return service
}
