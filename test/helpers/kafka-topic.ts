import { setTimeout as sleep } from 'node:timers/promises'
import type { Kafka, KafkaMessage } from 'kafkajs'
import { uniqueName } from './docker.js'

// Reading back what a sink wrote to a topic, for the tests against real brokers.

// The test's own clients, right after a broker restarts, meet its transient errors
// (NOT_LEADER_FOR_PARTITION while leaders are elected): they try again, as the sink does.
function transient (err: unknown): boolean {
  return err instanceof Error && ((err as { retriable?: unknown }).retriable === true || (err.cause !== err && transient(err.cause)))
}

export async function retrying<T> (work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      return await work()
    } catch (err) {
      if (!transient(err) || Date.now() > deadline) throw err
      await sleep(1000)
    }
  }
}

// Reads a topic from the beginning until `enough` says so; fails with what it has after the
// deadline, so a loss shows as a count, not a hang.
export async function consume (kafka: Kafka, topic: string, enough: (messages: readonly KafkaMessage[]) => boolean, timeoutMs = 180_000): Promise<KafkaMessage[]> {
  await waitForTopic(kafka, topic, timeoutMs)
  return await retrying(async () => await consumeOnce(kafka, topic, enough, timeoutMs))
}

async function consumeOnce (kafka: Kafka, topic: string, enough: (messages: readonly KafkaMessage[]) => boolean, timeoutMs: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('lrt-read'), allowAutoTopicCreation: true })
  const messages: KafkaMessage[] = []
  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${messages.length} messages in ${topic} after ${timeoutMs / 1000} s`)), timeoutMs)
      consumer.run({
        eachBatch: async ({ batch }) => {
          messages.push(...batch.messages)
          if (enough(messages)) {
            clearTimeout(timer)
            resolve()
          }
        },
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return messages
}

// The sink creates its topic with its first batch; subscribing earlier races that creation.
export async function waitForTopic (kafka: Kafka, topic: string, timeoutMs: number): Promise<void> {
  const admin = kafka.admin()
  await retrying(async () => await admin.connect())
  try {
    const deadline = Date.now() + timeoutMs
    while (!(await retrying(async () => await admin.listTopics())).includes(topic)) {
      if (Date.now() > deadline) throw new Error(`topic ${topic} was not created within ${timeoutMs / 1000} s`)
      await sleep(200)
    }
  } finally {
    await admin.disconnect()
  }
}

// How many messages the topic holds in all (its partitions' high watermarks).
export async function topicCount (kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await retrying(async () => await admin.connect())
  try {
    const offsets = await retrying(async () => await admin.fetchTopicOffsets(topic))
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)
  } finally {
    await admin.disconnect()
  }
}

// Each message's JSON record's `message` field, in topic order.
export function messagesOf (messages: readonly KafkaMessage[]): string[] {
  return messages.map((m) => (JSON.parse(m.value?.toString('utf8') ?? '') as { message: string }).message)
}
