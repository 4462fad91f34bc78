import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Client } from '@elastic/elasticsearch'
import { Kafka, logLevel } from 'kafkajs'
import { pino } from 'pino'
import { RecordBodyWriter } from '../../sinks/record-json.js'
import { jsonParser, parseLoggerTime, type JsonSettings } from '../../src/events/json.js'
import { timeHalves, timeNanoOf, type LogRecord } from '../../src/record.js'
import { docker, dockerOk, driverArgs, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { TestHttpServer } from '../helpers/http-server.js'
import { PluginProcess } from '../helpers/plugin.js'
import { waitUntil } from '../helpers/process.js'
import { containerMeta } from '../helpers/records.js'

// parse=json: what the parser makes of the lines of common loggers, and the same lines through
// dockerd to a real HTTP server, where their fields must arrive with their JSON types.

const DAEMON_TIME = 1_795_998_399_333_000_000n

function recordOf (line: string | Buffer, meta = containerMeta()): LogRecord {
  return { stream: 'stdout', time: timeHalves(DAEMON_TIME), line: Buffer.isBuffer(line) ? line : Buffer.from(line), complete: true, sequence: 7, container: meta }
}

// The record as a sink writes it, read back.
function written (line: string | Buffer, settings: JsonSettings = { key: undefined, promote: [] }, meta = containerMeta()): Record<string, unknown> {
  const record = jsonParser(settings)(recordOf(line, meta))
  const body = new RecordBodyWriter([record])
  body.record(record)
  return JSON.parse(body.finish().toString('utf8')) as Record<string, unknown>
}

const PINO = '{"level":30,"time":1733212800123,"pid":7,"hostname":"h","msg":"hello","n":1.5,"ok":true,"tags":["a"],"nested":{"x":null}}'
const ZAP = '{"level":"error","ts":1733212800.5,"caller":"main/main.go:12","msg":"request failed","error":"boom","attempt":3}'
const LOGBACK = '{"@timestamp":"2024-12-03T09:00:00.123+01:00","@version":"1","message":"started","logger_name":"com.example.App","thread_name":"main","level":"INFO","level_value":20000}'

describe('the JSON parser', () => {
  test('a pino line\'s fields are merged with their types; the message stays the line', () => {
    const doc = written(PINO)
    assert.equal(doc['message'], PINO)
    assert.equal(doc['level'], 30)
    assert.equal(doc['time'], 1733212800123)
    assert.equal(doc['n'], 1.5)
    assert.equal(doc['ok'], true)
    assert.deepEqual(doc['tags'], ['a'])
    assert.deepEqual(doc['nested'], { x: null })
    assert.deepEqual(doc['event'], { sequence: 7 })
  })

  test('promoted, the logger\'s message, level and time become the record\'s, and the plugin\'s time goes to event.created', () => {
    const all: JsonSettings = { key: undefined, promote: ['message', 'level', 'time'] }
    const p = written(PINO, all)
    assert.deepEqual([p['message'], p['log'], p['@timestamp']], ['hello', { level: 'info' }, '2024-12-03T08:00:00.123000000Z'])
    assert.deepEqual(p['event'], { sequence: 7, created: '2026-11-30T00:26:39.333000000Z' })
    assert.ok(!('msg' in p) && !('time' in p) && !('level' in p))
    assert.equal(p['pid'], 7)
    const z = written(ZAP, all)
    assert.deepEqual([z['message'], z['log'], z['@timestamp'], z['attempt']], ['request failed', { level: 'error' }, '2024-12-03T08:00:00.500000000Z', 3])
    const l = written(LOGBACK, all)
    assert.deepEqual([l['message'], l['log'], l['@timestamp'], l['level_value']], ['started', { level: 'info' }, '2024-12-03T08:00:00.123000000Z', 20000])
  })

  test('merged, a field the record has already is left out; with the message promoted the whole line is kept in event.original', () => {
    const plain = written(LOGBACK)
    assert.equal(plain['message'], LOGBACK)
    assert.match(String(plain['@timestamp']), /^2026-11-30T00:26:39\.333/)
    assert.equal(plain['logger_name'], 'com.example.App')
    const line = '{"msg":"m","host":"elsewhere","container":"x","stream":1}'
    const promoted = written(line, { key: undefined, promote: ['message'] })
    assert.equal(promoted['message'], 'm')
    assert.deepEqual(promoted['host'], { name: 'test-host' })
    assert.deepEqual(promoted['event'], { sequence: 7, original: line })
  })

  // A field named __proto__ set on a plain object would have become its prototype and vanished.
  test('a field named __proto__ is kept when the object is written again', () => {
    const doc = written('{"__proto__":{"x":1},"msg":"m","a":2}', { key: 'json', promote: ['message'] })
    assert.equal(JSON.stringify(doc['json']), '{"__proto__":{"x":1},"a":2}')
  })

  test('members taken out are cut from the text: the rest stays as written, escapes and nesting included', () => {
    const line = '{"id":12345678901234567890 , "msg":"m \\" , }","nested":{"msg":[1,{"a":"}"}]},"level":"WARN","n":1e3}'
    const doc = written(line, { key: 'json', promote: ['message', 'level'] })
    const record = jsonParser({ key: 'json', promote: ['message', 'level'] })(recordOf(line))
    assert.equal(record.json?.members.toString(), '{"id":12345678901234567890 ,"nested":{"msg":[1,{"a":"}"}]},"n":1e3}')
    assert.deepEqual([doc['message'], doc['log']], ['m " , }', { level: 'warn' }])
    const escapedKey = jsonParser({ key: undefined, promote: ['message'] })(recordOf('{"m\\u0073g":"x","msg":"y","b":2}'))
    assert.deepEqual(JSON.parse(escapedKey.json?.members.toString() ?? ''), { b: 2 })
  })

  test('under parse-json-key the object is kept whole, as written, big numbers included', () => {
    const line = '{"id":12345678901234567890,"message":"m","msg":"x"}'
    const record = jsonParser({ key: 'json', promote: [] })(recordOf(line))
    const body = new RecordBodyWriter([record])
    body.record(record)
    const text = body.finish().toString('utf8')
    assert.ok(text.endsWith(`,"json":${line}}`), text)
    assert.equal((JSON.parse(text) as { message: string }).message, line)
  })

  test('malformed JSON, arrays, strings and JSON with trailing text are shipped as they are', () => {
    for (const line of ['{"a":1', '[1,2]', '"text"', '{"a":1} and more', '{not json}', '', '42']) {
      const record = recordOf(line)
      assert.equal(jsonParser({ key: undefined, promote: ['message'] })(record), record, line)
    }
  })

  test('a pretty-printed object (one event of several lines) and invalid UTF-8 are written again as valid JSON', () => {
    const pretty = written('{\n  "a": 1,\n  "b": "two"\n}')
    assert.deepEqual([pretty['a'], pretty['b']], [1, 'two'])
    const bad = written(Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xff]), Buffer.from('"}')]))
    assert.equal(bad['s'], '\ufffd')
  })

  test('logger times: epoch seconds, milliseconds and nanoseconds, RFC 3339 with any offset; a time without a zone is left alone', () => {
    const iso = (v: unknown): string | undefined => {
      const t = parseLoggerTime(v)
      return t === undefined ? undefined : `${timeNanoOf(t)}`
    }
    assert.equal(iso(1733212800), '1733212800000000000')
    assert.equal(iso(1733212800123), '1733212800123000000')
    assert.equal(iso(1733212800123456789), '1733212800123456768')
    assert.equal(iso('2024-12-03T08:00:00.123456789Z'), '1733212800123456789')
    assert.equal(iso('2024-12-03T09:30:00+01:30'), '1733212800000000000')
    assert.equal(iso('2024-12-03 08:00:00,123'), undefined)
    assert.equal(iso('2024-13-03T08:00:00Z'), undefined)
    assert.equal(iso(-5), undefined)
  })
})

describe('parse=json through dockerd', () => {
  const plugin = new PluginProcess()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-json-test-'))
  let server: TestHttpServer
  before(async () => {
    await plugin.start()
    server = await TestHttpServer.start()
  })
  after(async () => {
    await plugin.cleanup()
    await server.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  test('lines from pino, zap and logback arrive with their fields as typed values; malformed JSON as a plain message', async () => {
    // Real pino output, written by the library itself.
    const file = path.join(tmp, 'lines.txt')
    const destination = pino.destination({ dest: file, sync: true })
    const log = pino({ base: { service: 'checkout' } }, destination)
    log.info({ orderId: 42, amount: 9.99, paid: true, items: ['a', 'b'] }, 'order placed')
    log.error({ err: new Error('card declined') }, 'payment failed')
    destination.flushSync()
    fs.appendFileSync(file, `${ZAP}\n${LOGBACK}\n{"broken": tru\nplain text line\n`)
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n')
    const url = server.url('/json')
    const name = uniqueName('json')
    await dockerOk(['run', '--name', name, '--network', 'none', '-v', `${tmp}:/lines:ro`,
      ...driverArgs(plugin.name, ['sink=http', `http-url=${url}`, 'http-batch-timeout-ms=50', 'parse=json', 'parse-json-promote=message,level,time']),
      TEST_IMAGE, 'cat', '/lines/lines.txt'])
    const got = (): Record<string, unknown>[] => server.requests.filter((r) => r.url === '/json')
      .flatMap((r) => r.body.toString().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>))
    await waitUntil(`${lines.length} records`, () => got().length >= lines.length)
    const [placed, failed, zap, logback, broken, plain] = got()
    assert.deepEqual([placed?.['message'], placed?.['log'], placed?.['orderId'], placed?.['amount'], placed?.['paid'], placed?.['items'], placed?.['service']],
      ['order placed', { level: 'info' }, 42, 9.99, true, ['a', 'b'], 'checkout'])
    assert.match(String(placed?.['@timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000000Z$/)
    assert.deepEqual([failed?.['message'], failed?.['log']], ['payment failed', { level: 'error' }])
    assert.equal((failed?.['err'] as { message: string }).message, 'card declined')
    assert.deepEqual([zap?.['message'], zap?.['attempt'], zap?.['caller'], zap?.['@timestamp']], ['request failed', 3, 'main/main.go:12', '2024-12-03T08:00:00.500000000Z'])
    assert.deepEqual([logback?.['message'], logback?.['level_value'], logback?.['log']], ['started', 20000, { level: 'info' }])
    assert.equal(broken?.['message'], '{"broken": tru')
    assert.equal(plain?.['message'], 'plain text line')
    assert.ok(!('broken' in (broken ?? {})))
    assert.equal((await docker(['logs', name])).stdout.toString(), fs.readFileSync(file, 'utf8'), 'docker logs keeps the lines as written')
  })

  test('elasticsearch: a grouped trace is one document with event.lines, a JSON line\'s fields are typed in the mapping', async () => {
    const esUrl = process.env['ES_URL']
    if (esUrl === undefined || esUrl === '') assert.fail('ES_URL is not set: run the tests with `npm test`, which starts Elasticsearch')
    const es = new Client({ node: esUrl })
    const index = uniqueName('lrt-events')
    try {
      const trace = ['java.lang.IllegalStateException: boom', '\tat A.b(A.java:1)', '\t... 3 more']
      const script = `printf '${trace.join('\\n')}\\n'; echo '${PINO}'`
      await dockerOk(['run', '--rm', '--network', 'none', ...driverArgs(plugin.name, ['sink=elasticsearch', `es-url=${esUrl}`, `es-index=${index}`, 'es-batch-timeout-ms=50',
        'multiline=java', 'parse=json', 'parse-json-key=app']), TEST_IMAGE, 'sh', '-c', script])
      const docs = async (): Promise<Record<string, unknown>[]> => {
        await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true })
        const found = await es.search<Record<string, unknown>>({ index, sort: [{ 'event.sequence': { order: 'asc', unmapped_type: 'long' } }], ignore_unavailable: true })
        return found.hits.hits.map((h) => h._source ?? {})
      }
      await waitUntil('2 documents', async () => (await docs()).length >= 2, 60_000, 250)
      const [traceDoc, pinoDoc] = await docs()
      assert.equal(traceDoc?.['message'], trace.join('\n'))
      assert.deepEqual(traceDoc?.['event'], { sequence: 1, lines: 3 })
      assert.deepEqual(pinoDoc?.['app'], JSON.parse(PINO))
      const mapping = await es.indices.getMapping({ index })
      const app = (Object.values(mapping)[0]?.mappings.properties?.['app'] as { properties: Record<string, { type: string }> }).properties
      assert.deepEqual([app['level']?.type, app['n']?.type, app['ok']?.type, app['msg']?.type], ['long', 'float', 'boolean', 'text'])
      assert.equal((Object.values(mapping)[0]?.mappings.properties?.['event'] as { properties: Record<string, { type: string }> }).properties['lines']?.type, 'long')
    } finally {
      await es.indices.delete({ index, ignore_unavailable: true })
      await es.close()
    }
  })

  test('kafka: a grouped trace is one message, a JSON line\'s fields are in its value; raw messages are the lines as written', async () => {
    const brokers = process.env['KAFKA_BROKERS']
    if (brokers === undefined || brokers === '') assert.fail('KAFKA_BROKERS is not set: run the tests with `npm test`, which starts Kafka')
    const kafka = new Kafka({ clientId: 'logrelay-events-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
    const trace = ['java.lang.IllegalStateException: boom', '\tat A.b(A.java:1)']
    const script = `printf '${trace.join('\\n')}\\n'; echo '${ZAP}'`
    const values = async (format: string): Promise<string[]> => {
      const topic = uniqueName('lrt-events')
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
      await admin.disconnect()
      await dockerOk(['run', '--rm', '--network', 'none', ...driverArgs(plugin.name, ['sink=kafka', `kafka-brokers=${brokers}`, `kafka-topic=${topic}`, `kafka-format=${format}`,
        'multiline=java', 'parse=json']), TEST_IMAGE, 'sh', '-c', script])
      const seen: string[] = []
      const consumer = kafka.consumer({ groupId: uniqueName('lrt-events') })
      await consumer.connect()
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true })
        await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value?.toString() ?? '') } })
        await waitUntil(`2 messages in ${topic}`, () => seen.length >= 2, 60_000)
      } finally {
        await consumer.disconnect()
      }
      return seen
    }
    const [traceJson, zapJson] = (await values('json')).map((v) => JSON.parse(v) as Record<string, unknown>)
    assert.deepEqual([traceJson?.['message'], traceJson?.['event']], [trace.join('\n'), { sequence: 1, lines: 2 }])
    assert.deepEqual([zapJson?.['attempt'], zapJson?.['caller'], (zapJson?.['event'] as { lines: number }).lines], [3, 'main/main.go:12', 1])
    assert.deepEqual(await values('raw'), [trace.join('\n'), ZAP])
  })

  test('a raw body is left as written', async () => {
    const url = server.url('/raw')
    await dockerOk(['run', '--rm', '--network', 'none', ...driverArgs(plugin.name, ['sink=http', `http-url=${url}`, 'http-format=raw', 'http-batch-timeout-ms=50', 'parse=json', 'parse-json-promote=message']),
      TEST_IMAGE, 'sh', '-c', `echo '${ZAP}'; echo plain`])
    const raw = (): string => server.requests.filter((r) => r.url === '/raw').map((r) => r.body.toString()).join('')
    await waitUntil('2 raw lines', () => raw().split('\n').length >= 3)
    assert.equal(raw(), `${ZAP}\nplain\n`)
  })

  test('an invalid parse, key or promoted field fails docker run naming the option', async () => {
    const cases: [string, RegExp][] = [
      ['parse=xml', /invalid log-opt parse="xml" \(not an accepted value\): expected one of none, json/],
      ['parse-json-key=message', /invalid log-opt parse-json-key="message" \(the record has a field of that name\): expected a field name other than the record's own/],
      ['parse-json-promote=message,caller', /invalid log-opt parse-json-promote="message,caller" \("caller" is not accepted\): expected a comma-separated list of message, level, time/],
    ]
    for (const [opt, message] of cases) {
      const run = await docker(['run', '--rm', '--network', 'none', ...driverArgs(plugin.name, ['sink=http', `http-url=${server.url('/never')}`, 'parse=json', opt]), TEST_IMAGE, 'true'])
      assert.notEqual(run.code, 0, opt)
      assert.match(run.stderr, message)
    }
  })
})
