import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@elastic/elasticsearch'
import { Kafka, logLevel } from 'kafkajs'
import { docker, dockerOk, driverArgs, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { rawDelivered, type Answer, type TestHttpServer } from '../helpers/http-server.js'
import type { PluginProcess } from '../helpers/plugin.js'
import { waitUntil } from '../helpers/process.js'
import { Started } from '../helpers/started.js'

// Durable delivery through the real path: the store on disk is the hand-off to the sinks, so a
// kill -9 of the plugin, a restart while the backend is down, or a long outage loses nothing
// and blocks nothing. Lines are counted one by one at the sink and in `docker logs`.

function env (name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') assert.fail(`${name} is not set: run the tests with \`npm test\`, which starts the servers`)
  return value
}

const kafka = new Kafka({ clientId: 'logrelay-durable-test', brokers: env('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING })
const es = new Client({ node: env('ES_URL') })
const started = new Started()

after(async () => {
  await started.cleanup()
  await es.close()
})

const plugin = async (settings?: NodeJS.ProcessEnv): Promise<PluginProcess> => await started.plugin(settings)
const serve = async (policy?: (n: number) => Answer): Promise<TestHttpServer> => await started.server(policy)

async function kafkaDelivered (topic: string, expected: number, timeoutMs = 240_000): Promise<Set<number>> {
  const seen = new Set<number>()
  const consumer = kafka.consumer({ groupId: uniqueName('lrt-durable') })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachBatch: async ({ batch }) => { for (const m of batch.messages) seen.add(Number(m.value?.toString('latin1'))) } })
    await waitUntil(`${expected} lines in ${topic}`, () => seen.size >= expected, timeoutMs).catch(() => {})
  } finally {
    await consumer.disconnect()
  }
  return seen
}

interface EsDoc { message: string }

async function esDelivered (index: string): Promise<{ lines: Set<number>, docs: number }> {
  await es.indices.refresh({ index })
  const lines = new Set<number>()
  let docs = 0
  let after: (string | number)[] | undefined
  for (;;) {
    const page = await es.search<EsDoc>({ index, size: 10_000, sort: [{ '@timestamp': 'asc' }, { 'event.sequence': 'asc' }], ...(after === undefined ? {} : { search_after: after }) })
    const hits = page.hits.hits
    if (hits.length === 0) break
    for (const hit of hits) {
      docs++
      lines.add(Number(hit._source?.message))
    }
    after = hits.at(-1)?.sort as (string | number)[] | undefined
  }
  return { lines, docs }
}

// `docker logs` as numbers, in order.
async function loggedLines (name: string): Promise<number[]> {
  const out = (await dockerOk(['logs', name], 300_000)).toString()
  return out.split('\n').filter((l) => l !== '').map(Number)
}

// The numbers 1..count missing from `have`.
function missing (have: ReadonlySet<number> | readonly number[], count: number): number[] {
  const set = have instanceof Set ? have : new Set(have)
  const out: number[] = []
  for (let i = 1; i <= count; i++) if (!set.has(i)) out.push(i)
  return out
}

// What a kill -9 may cost: the plugin's one read from the pipe that was not on disk yet (a
// pipe cannot be read without taking the bytes out of it). A FIFO read is at most 64 KiB, and a
// frame of these lines is at least 20 bytes; the lines lost are one run.
const READ_AHEAD_LINES = Math.ceil(64 * 1024 / 20)

function assertReadAheadAtMost (t: TestContext, lost: readonly number[], what: string): void {
  t.diagnostic(`${what}: ${lost.length} lines missing${lost.length > 0 ? ` (${lost[0]} to ${lost.at(-1)})` : ''}`)
  assert.ok(lost.length <= READ_AHEAD_LINES, `${what}: ${lost.length} lines missing, more than one read-ahead`)
  if (lost.length > 0) assert.equal((lost.at(-1) as number) - (lost[0] as number) + 1, lost.length, `${what}: the missing lines are one run`)
}

const LINES = 200_000

// Kills the plugin with SIGKILL once the sink has between 10% and 70% of the lines, starts it
// again on the same state, and waits for the container to finish.
async function killMidStream (t: TestContext, p: PluginProcess, name: string, delivered: () => Promise<number>): Promise<void> {
  const at = Math.floor(LINES * (0.1 + Math.random() * 0.6))
  await waitUntil(`${at} lines delivered before the kill`, async () => await delivered() >= at, 240_000, 50)
  t.diagnostic(`kill -9 with ${await delivered()} of ${LINES} lines delivered`)
  await p.stop('SIGKILL')
  await sleep(200)
  await p.start()
  const waited = await docker(['wait', name], 300_000)
  assert.equal(waited.code, 0, waited.stderr)
}

describe('durable delivery: kill -9 of the plugin in the middle of a stream', () => {
  test('http: every stored line reaches the sink, and docker logs gives every line back', { timeout: 600_000 }, async (t) => {
    const server = await serve()
    const p = await plugin()
    const name = uniqueName('kill-http')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(p.name, ['sink=http', `http-url=${server.url()}`, 'http-format=raw']), TEST_IMAGE, 'seq', '1', String(LINES)])
    await killMidStream(t, p, name, async () => rawDelivered(server).size)
    const logged = await loggedLines(name)
    const lost = missing(logged, LINES)
    assertReadAheadAtMost(t, lost, 'docker logs')
    assert.deepEqual(logged, Array.from({ length: LINES }, (_, i) => i + 1).filter((n) => !lost.includes(n)), 'docker logs in order')
    await waitUntil('every stored line at the sink', () => rawDelivered(server).size >= LINES - lost.length, 240_000)
    assert.deepEqual(missing(rawDelivered(server), LINES), lost, 'the sink has every line docker logs has')
  })

  test('http with multiline grouping: every stored line reaches the sink, inside the events it was grouped into', { timeout: 600_000 }, async (t) => {
    const server = await serve()
    const p = await plugin()
    const name = uniqueName('kill-multiline')
    // Events of ten lines, each beginning at a number ending in 0; raw bodies carry their lines.
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(p.name, ['sink=http', `http-url=${server.url()}`, 'http-format=raw', 'multiline-pattern=0$']), TEST_IMAGE, 'seq', '1', String(LINES)])
    await killMidStream(t, p, name, async () => rawDelivered(server).size)
    const lost = missing(await loggedLines(name), LINES)
    assertReadAheadAtMost(t, lost, 'docker logs')
    await waitUntil('every stored line at the sink', () => rawDelivered(server).size >= LINES - lost.length, 240_000)
    assert.deepEqual(missing(rawDelivered(server), LINES), lost, 'the sink has every line docker logs has')
  })

  test('kafka: every stored line reaches the topic', { timeout: 600_000 }, async (t) => {
    const topic = uniqueName('lrt-kill')
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    const count = async (): Promise<number> => (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0)
    try {
      const p = await plugin()
      const name = uniqueName('kill-kafka')
      await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(p.name, ['sink=kafka', `kafka-brokers=${env('KAFKA_BROKERS')}`, `kafka-topic=${topic}`, 'kafka-format=raw']), TEST_IMAGE, 'seq', '1', String(LINES)])
      await killMidStream(t, p, name, count)
      const lost = missing(await loggedLines(name), LINES)
      assertReadAheadAtMost(t, lost, 'docker logs')
      const delivered = await kafkaDelivered(topic, LINES - lost.length)
      assert.deepEqual(missing(delivered, LINES), lost, 'the topic has every line docker logs has')
      t.diagnostic(`${await count() - delivered.size} duplicates in the topic (at least once)`)
    } finally {
      await admin.disconnect()
    }
  })

  test('elasticsearch: every stored line is indexed once: the _id survives the restart', { timeout: 600_000 }, async (t) => {
    const index = uniqueName('lrt-kill')
    const p = await plugin()
    const name = uniqueName('kill-es')
    const count = async (): Promise<number> => {
      try {
        await es.indices.refresh({ index })
        return (await es.count({ index })).count
      } catch {
        return 0
      }
    }
    try {
      await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(p.name, ['sink=elasticsearch', `es-url=${env('ES_URL')}`, `es-index=${index}`]), TEST_IMAGE, 'seq', '1', String(LINES)])
      await killMidStream(t, p, name, count)
      const lost = missing(await loggedLines(name), LINES)
      assertReadAheadAtMost(t, lost, 'docker logs')
      await waitUntil('every stored line indexed', async () => await count() >= LINES - lost.length, 300_000, 1000)
      await sleep(2000)
      const { lines, docs } = await esDelivered(index)
      assert.deepEqual(missing(lines, LINES), lost, 'the index has every line docker logs has')
      assert.equal(docs, lines.size, 'no line indexed twice')
    } finally {
      await es.indices.delete({ index, ignore_unavailable: true })
    }
  })
})

const down: Answer = { status: 503, body: 'down for the test' }
const up: Answer = { status: 200 }

describe('durable delivery: backend outages', () => {
  test('a container that exits while the backend is down, then a plugin restart, then the backend back: every line delivered', { timeout: 300_000 }, async () => {
    let answer = down
    const server = await serve(() => answer)
    const p = await plugin()
    const name = uniqueName('down-restart')
    await dockerOk(['run', '--name', name, '--network', 'none', ...driverArgs(p.name, ['sink=http', `http-url=${server.url()}`, 'http-format=raw']), TEST_IMAGE, 'seq', '1', '30000'])
    assert.equal((await loggedLines(name)).length, 30_000, 'docker logs has every line at once')
    await waitUntil('the sink tried', () => server.requests.length > 0)
    await p.restart()
    answer = up
    await waitUntil('every line delivered after the restart', () => rawDelivered(server).size >= 30_000, 120_000)
    assert.deepEqual(missing(rawDelivered(server), 30_000), [])
  })

  test('buffer-full=drop-oldest: exactly the lines given up are missing at the sink, and the log counts them', { timeout: 300_000 }, async (t) => {
    let answer = down
    const server = await serve(() => answer)
    const p = await plugin()
    const name = uniqueName('drop-oldest')
    const lines = 300_000
    await dockerOk(['run', '--name', name, '--network', 'none', ...driverArgs(p.name, [
      'sink=http', `http-url=${server.url()}`, 'http-format=raw', 'store-max-bytes=256k', 'buffer-max-bytes=1m', 'buffer-full=drop-oldest',
    ]), TEST_IMAGE, 'seq', '1', String(lines)], 300_000)
    answer = up
    // Delivery ends with the container's last line, which is never given up.
    await waitUntil('the last line delivered', () => rawDelivered(server).has(lines), 120_000)
    await sleep(1000)
    const gone = missing(rawDelivered(server), lines)
    assert.ok(gone.length > 0, 'the bound was reached')
    await waitUntil('the drops logged', () => droppedInLog(p.output) >= gone.length, 30_000).catch(() => {})
    t.diagnostic(`${gone.length} of ${lines} lines given up, ${droppedInLog(p.output)} counted in the log`)
    assert.equal(droppedInLog(p.output), gone.length)
  })

  test('a backend down for 120 s while a container writes 2,000 lines/s for 60 s: the container never waits, docker logs is whole at its exit, and every line arrives after', { timeout: 600_000 }, async (t) => {
    let answer = down
    const server = await serve(() => answer)
    const p = await plugin()
    const name = uniqueName('outage')
    // 200 lines every 100 ms for 60 s; each burst is timed from inside the container with
    // /proc/uptime (centiseconds), and the slowest is printed last.
    const script = 'max=0; i=0; while [ $i -lt 600 ]; do read a _ < /proc/uptime; j=0; while [ $j -lt 200 ]; do j=$((j+1)); echo $((i*200+j)); done; ' +
      'read b _ < /proc/uptime; d=$(( ${b%.*}${b#*.} - ${a%.*}${a#*.} )); [ $d -gt $max ] && max=$d; i=$((i+1)); sleep 0.1; done; echo stall-cs-$max'
    const started = Date.now()
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(p.name, ['sink=http', `http-url=${server.url()}`, 'http-format=raw']), TEST_IMAGE, 'sh', '-c', script])
    let peakRss = 0
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(p.pid)) }, 500)
    try {
      const waited = await docker(['wait', name], 300_000)
      assert.equal(waited.code, 0, waited.stderr)
      const out = (await dockerOk(['logs', name])).toString().split('\n').filter((l) => l !== '')
      const stall = Number(out.at(-1)?.replace('stall-cs-', ''))
      t.diagnostic(`container ran ${(Date.now() - started) / 1000} s; slowest burst of 200 lines: ${stall * 10} ms; plugin peak RSS ${peakRss.toFixed(0)} MB`)
      assert.ok(stall <= 100, `a burst of writes waited ${stall * 10} ms`)
      assert.deepEqual(missing(out.slice(0, -1).map(Number), 120_000), [], 'docker logs is whole as soon as the container exited')
      assert.equal(rawDelivered(server).size, 0, 'the backend was down all along')
      await sleep(Math.max(0, started + 120_000 - Date.now()))
      answer = up
      await waitUntil('every line delivered after the outage', () => rawDelivered(server).size >= 120_000, 180_000)
      assert.ok(peakRss < 400, `peak RSS ${peakRss} MB`)
    } finally {
      clearInterval(sampler)
    }
  })
})

function droppedInLog (output: string): number {
  let total = 0
  for (const line of output.split('\n')) {
    if (!line.includes('"records dropped"')) continue
    total += (JSON.parse(line) as { dropped: number }).dropped
  }
  return total
}

function rssMb (pid: number | undefined): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return Number(match?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

