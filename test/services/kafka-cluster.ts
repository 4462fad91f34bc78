import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isAlive, stopPid } from '../helpers/process.js'
import type { StartContext } from './managed-service.js'
import { newClusterId, startKafkaNode, type KafkaNode } from './kafka.js'
import { freePorts } from './loopback.js'
import { prepareKafka } from './services.js'

// A 3-broker KRaft cluster on loopback for the tests that need leaders to move: each node is
// broker and controller (a quorum of three voters), with its own ports and data directory;
// topics get 3 replicas and writes with acks=all need 2 of them in sync, as in production.
// The single shared broker stays the default for every other test.

export interface ClusterNode {
  readonly id: number
  readonly address: string
  readonly pid: number | undefined
}

export interface KafkaCluster {
  // host:port of every broker, comma-separated, for kafka-brokers.
  readonly brokers: string
  readonly nodes: readonly ClusterNode[]
  // kill -9: no shutdown, no leadership handed over, as a crashed machine.
  kill: (id: number) => void
  // Starts a node again on its data; resolves once it answers.
  restart: (id: number) => Promise<void>
  stop: () => Promise<void>
}

const SIZE = 3

function nodeProperties (id: number, port: number, voters: string): string {
  return `
process.roles=broker,controller
node.id=${id}
controller.quorum.voters=${voters}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:@CONTROLLER_PORT@
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=@DATA_DIR@
default.replication.factor=${SIZE}
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=${SIZE}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=${SIZE}
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=${SIZE}
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=true
`
}

export async function startKafkaCluster (): Promise<KafkaCluster> {
  const context: StartContext = await prepareKafka()
  const root = mkdtempSync(join(tmpdir(), 'logrelay-kafka-cluster-'))
  const ports = await freePorts(2 * SIZE)
  const ids = Array.from({ length: SIZE }, (_, i) => i + 1)
  const brokerPort = (id: number): number => ports[id - 1] as number
  const controllerPort = (id: number): number => ports[SIZE + id - 1] as number
  const voters = ids.map((id) => `${id}@127.0.0.1:${controllerPort(id)}`).join(',')
  const clusterId = newClusterId()
  const specs = new Map<number, KafkaNode>(ids.map((id) => {
    const runDir = join(root, `node-${id}`)
    return [id, {
      runDir,
      properties: nodeProperties(id, brokerPort(id), voters).replace('@CONTROLLER_PORT@', String(controllerPort(id))),
      marker: `-Dlogrelay.test.service=${runDir}`,
      probe: `127.0.0.1:${brokerPort(id)}`,
      standalone: false,
      clusterId,
      label: `cluster broker ${id}`,
    }]
  }))
  const pids = new Map<number, number | undefined>()
  const spec = (id: number): KafkaNode => {
    const found = specs.get(id)
    if (found === undefined) throw new Error(`no cluster node ${id}`)
    return found
  }
  const start = async (id: number): Promise<void> => {
    pids.set(id, await startKafkaNode(context, spec(id)))
  }
  const stop = async (): Promise<void> => {
    await Promise.all([...pids.values()].map(async (pid) => { if (pid !== undefined) await stopPid(pid, 20_000) }))
    rmSync(root, { recursive: true, force: true })
  }
  // A broker answers only once the quorum has a leader, which takes two of the three: all start at once.
  const started = await Promise.allSettled(ids.map(start))
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) {
    await stop()
    throw failed.reason
  }
  return {
    brokers: ids.map((id) => spec(id).probe).join(','),
    get nodes () {
      return ids.map((id) => ({ id, address: spec(id).probe, pid: pids.get(id) }))
    },
    kill: (id: number) => {
      const pid = pids.get(id)
      if (pid === undefined || !isAlive(pid)) throw new Error(`cluster node ${id} is not running`)
      process.kill(pid, 'SIGKILL')
      pids.set(id, undefined)
    },
    restart: async (id: number) => await start(id),
    stop,
  }
}
