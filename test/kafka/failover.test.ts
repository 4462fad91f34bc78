import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { docker, dockerOk, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { consume, messagesOf, retrying, topicCount } from '../helpers/kafka-topic.js'
import { PluginProcess } from '../helpers/plugin.js'
import { waitUntil } from '../helpers/process.js'
import { startKafkaCluster, type KafkaCluster } from '../services/kafka-cluster.js'

// A leader election under the Kafka sink, the everyday fault of a real cluster: the broker that
// leads the topic's partition dies (kill -9) in the middle of the stream and comes back later.

let cluster: KafkaCluster
let kafka: Kafka
const plugin = new PluginProcess()

before(async () => {
  cluster = await startKafkaCluster()
  kafka = new Kafka({ clientId: 'logrelay-failover-test', brokers: cluster.brokers.split(','), logLevel: logLevel.NOTHING })
  await plugin.start()
})
after(async () => {
  await plugin.cleanup()
  await cluster?.stop()
})

async function leaderOf (topic: string): Promise<number> {
  const admin = kafka.admin()
  await retrying(async () => await admin.connect())
  try {
    const metadata = await retrying(async () => await admin.fetchTopicMetadata({ topics: [topic] }))
    const leader = metadata.topics[0]?.partitions[0]?.leader
    if (leader === undefined) throw new Error(`no leader for ${topic}`)
    return leader
  } finally {
    await admin.disconnect()
  }
}

const CONTAINERS = 2
const LINES = 50_000

describe('the Kafka sink against a 3-broker cluster', () => {
  test('the partition leader killed -9 mid-stream and restarted: every line in the topic, in order per container, and the log shows the change, not a stream of errors', { timeout: 600_000 }, async (t) => {
    const topic = uniqueName('lrt-failover')
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }
    // About 5,000 lines a second each, so the stream is still running when the leader dies.
    const names = Array.from({ length: CONTAINERS }, (_, c) => uniqueName(`failover-${c}`))
    const script = (c: number): string => `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo c${c}-$i; [ $((i % 500)) -eq 0 ] && sleep 0.1; done`
    for (const [c, name] of names.entries()) {
      await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name,
        '--log-opt', 'sink=kafka', '--log-opt', `kafka-brokers=${cluster.brokers}`, '--log-opt', `kafka-topic=${topic}`, TEST_IMAGE, 'sh', '-c', script(c)])
    }
    await waitUntil('a third of the lines in the topic', async () => await topicCount(kafka, topic) >= CONTAINERS * LINES / 3, 300_000, 200)

    const leader = await leaderOf(topic)
    const before = await topicCount(kafka, topic)
    cluster.kill(leader)
    await waitUntil('another leader', async () => await leaderOf(topic).catch(() => leader) !== leader, 120_000, 500)
    const moved = await leaderOf(topic)
    const during = await topicCount(kafka, topic)
    await cluster.restart(leader)
    t.diagnostic(`leader ${leader} killed at ${before} lines, ${moved} led from ${during}; restarted`)

    for (const name of names) assert.equal((await docker(['wait', name], 300_000)).stdout.toString().trim(), '0')
    const total = CONTAINERS * LINES
    const seen = new Set<string>()
    let read = 0
    let attempt: readonly unknown[] | undefined
    const messages = await consume(kafka, topic, (m) => {
      // A retried read starts from the beginning again: count that read alone.
      if (m !== attempt) {
        attempt = m
        read = 0
        seen.clear()
      }
      for (; read < m.length; read++) seen.add(messagesOf([m[read] as never])[0] as string)
      return seen.size >= total
    }, 300_000)
    const lines = messagesOf(messages)
    for (let c = 0; c < CONTAINERS; c++) {
      const firsts = [...new Set(lines.filter((l) => l.startsWith(`c${c}-`)))]
      assert.equal(firsts.length, LINES, `container ${c}: every line in the topic`)
      assert.deepEqual(firsts, Array.from({ length: LINES }, (_, i) => `c${c}-${i + 1}`), `container ${c}: first deliveries in order`)
    }
    t.diagnostic(`${lines.length} messages for ${total} lines: ${lines.length - total} duplicates (at least once)`)

    const log = plugin.output.split('\n').filter((l) => l !== '')
    t.diagnostic(log.filter((l) => l.includes('"sink":"kafka"')).join('\n'))
    assert.doesNotMatch(plugin.output, /records dropped|LOGRELAY_ERR/, 'nothing dropped, no error')
    const retried = log.filter((l) => l.includes('batch will be retried'))
    assert.ok(retried.length >= 1 && retried.length <= 2 * CONTAINERS, `the failure seen, not a stream of retries: ${retried.length}`)
    const dead = cluster.nodes.find((n) => n.id === leader)?.address ?? '?'
    assert.ok(retried.some((l) => l.includes(dead) || l.includes('NOT_LEADER')), `the retry names the broker that died (${dead}) or the leader change`)
    const recovered = log.findIndex((l) => l.includes('Kafka takes the records again'))
    assert.ok(recovered > log.indexOf(retried[0] as string), 'then the sink says it delivers again')
  })
})
