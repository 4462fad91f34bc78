import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, test } from 'node:test'
import { Client } from '@elastic/elasticsearch'
import { Kafka, logLevel, Partitioners } from 'kafkajs'

// The shared runner (npm test) starts the servers once and hands them to every test file.
function serverFromEnv (name: 'KAFKA_BROKERS' | 'ES_URL'): string {
  const value = process.env[name]
  if (value === undefined || value === '') {
    assert.fail(
      `${name} is not set: run the tests with \`npm test\`, which starts Kafka and Elasticsearch ` +
        '(or `npm run services:up` and set KAFKA_BROKERS=127.0.0.1:9092 ES_URL=http://127.0.0.1:9200)',
    )
  }
  return value
}

function uniqueName (prefix: string): string {
  return `${prefix}-${randomUUID()}`
}

describe('the Kafka broker the tests run against', () => {
  test('creates a topic, takes messages and gives them back to a consumer in order', { timeout: 90_000 }, async () => {
    const kafka = new Kafka({
      clientId: 'logrelay-services-test',
      brokers: serverFromEnv('KAFKA_BROKERS').split(','),
      logLevel: logLevel.NOTHING,
    })
    const topic = uniqueName('logrelay-services')
    const admin = kafka.admin()
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    const consumer = kafka.consumer({ groupId: uniqueName('logrelay-services-group') })
    try {
      await admin.connect()
      const cluster = await admin.describeCluster()
      assert.ok(cluster.brokers.length >= 1, 'describeCluster names at least one broker')

      const created = await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
      assert.equal(created, true)
      assert.ok((await admin.listTopics()).includes(topic))

      const sent = ['first line', 'second line', 'third line']
      await producer.connect()
      await producer.send({ topic, messages: sent.map((value, index) => ({ key: `k${index}`, value })) })

      await consumer.connect()
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      const received: string[] = []
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ message }) => {
              received.push(message.value?.toString('utf8') ?? '')
              if (received.length === sent.length) resolve()
            },
          })
          .catch(reject)
      })
      assert.deepEqual(received, sent)
    } finally {
      await consumer.disconnect()
      await producer.disconnect()
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
      await admin.disconnect()
    }
  })
})

describe('the Elasticsearch node the tests run against', () => {
  test('answers info() with an Elasticsearch version', async () => {
    const client = new Client({ node: serverFromEnv('ES_URL') })
    try {
      const info = await client.info()
      assert.match(info.version.number, /^\d+\.\d+\.\d+/)
      assert.ok(Number.parseInt(info.version.number, 10) >= 8, `version ${info.version.number} is 8.x or newer`)
      assert.equal(typeof info.cluster_name, 'string')
    } finally {
      await client.close()
    }
  })

  test('indexes a bulk of 1,000 documents and finds them by search', { timeout: 60_000 }, async () => {
    const client = new Client({ node: serverFromEnv('ES_URL') })
    const index = uniqueName('logrelay-services')
    try {
      const operations = Array.from({ length: 1000 }, (_, seq) => [
        { create: { _index: index, _id: `doc-${seq}` } },
        { '@timestamp': new Date(1_780_000_000_000 + seq).toISOString(), message: `line number ${seq}`, seq },
      ]).flat()
      const bulk = await client.bulk({ operations, refresh: 'wait_for' })
      assert.equal(bulk.errors, false)
      assert.equal(bulk.items.length, 1000)

      assert.equal((await client.count({ index })).count, 1000)
      const found = await client.search<{ message: string; seq: number }>({
        index,
        query: { term: { seq: 500 } },
      })
      assert.equal(found.hits.hits.length, 1)
      assert.equal(found.hits.hits[0]?._id, 'doc-500')
      assert.equal(found.hits.hits[0]?._source?.message, 'line number 500')
    } finally {
      await client.indices.delete({ index }, { ignore: [404] }).catch(() => undefined)
      await client.close()
    }
  })

  test('turns create operations on a data_stream index template into a data stream', { timeout: 60_000 }, async () => {
    const client = new Client({ node: serverFromEnv('ES_URL') })
    const stream = uniqueName('logrelay-services-ds')
    try {
      await client.indices.putIndexTemplate({
        name: stream,
        index_patterns: [`${stream}*`],
        data_stream: {},
        priority: 500,
        template: { mappings: { properties: { '@timestamp': { type: 'date_nanos' }, message: { type: 'text' } } } },
      })
      const bulk = await client.bulk({
        refresh: 'wait_for',
        operations: [
          { create: { _index: stream } },
          { '@timestamp': '2026-11-29T23:59:59.123456789Z', message: 'into a data stream' },
        ],
      })
      assert.equal(bulk.errors, false)
      const backing = bulk.items[0]?.create?._index ?? ''
      assert.ok(backing.startsWith(`.ds-${stream}-`), `written to a backing index of the stream, not ${backing}`)
      const found = await client.search<{ message: string }>({ index: stream, query: { match: { message: 'stream' } } })
      assert.equal(found.hits.hits[0]?._source?.message, 'into a data stream')
    } finally {
      // The node started by services:up lacks the data-streams module (no _data_stream API); its data
      // goes with services:down. Other servers delete the stream here.
      await client.indices.deleteDataStream({ name: stream }, { ignore: [404, 405] }).catch(() => undefined)
      await client.indices.deleteIndexTemplate({ name: stream }, { ignore: [404] }).catch(() => undefined)
      await client.close()
    }
  })
})
