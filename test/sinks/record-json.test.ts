import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecordBodyWriter } from '../../sinks/record-json.js'
import { jsonParser } from '../../src/events/json.js'
import { timeHalves, type ContainerMeta, type LogRecord } from '../../src/record.js'
import { referenceRecordJson } from '../helpers/record-json.js'
import { containerMeta } from '../helpers/records.js'

const meta = containerMeta({ labels: { team: 'blue', 'quote"': 'x\\y' } })
const other: ContainerMeta = { ...meta, id: 'd'.repeat(64), name: 'wörker', env: { REGION: 'eu', EMPTY: '' }, tag: 'web/{{x}}', labels: {} }

function record (timeNano: bigint, line: Buffer, sequence = 1, container = meta): LogRecord {
  return { stream: sequence % 2 === 0 ? 'stderr' : 'stdout', time: timeHalves(timeNano), line, complete: true, sequence, container }
}

function encoded (records: readonly LogRecord[]): string[] {
  return records.map((r) => {
    const body = new RecordBodyWriter([r])
    body.record(r)
    return body.finish().toString('utf8')
  })
}

// The date part of the last second is reused; a stale cache would stamp lines with the wrong
// second, and nothing downstream would notice.
test('timestamps are right across second, day and year boundaries, before 1970 and in any order', () => {
  const times = [
    1_767_225_599_999_999_999n, 1_767_225_600_000_000_000n, 1_767_225_600_000_000_001n,
    1_767_225_599_000_000_000n, 1_767_225_601_123_456_789n, 0n, 1_767_225_600_500_000_000n,
    -1n, -1_000_000_000n, -1_500_000_000n, 4_102_444_800_000_000_000n, 9_223_372_036_854_775_807n,
  ]
  const records = times.map((t) => record(t, Buffer.from('x')))
  assert.deepEqual(encoded(records), records.map(referenceRecordJson))
  assert.match(encoded([record(1_767_225_599_999_999_999n, Buffer.alloc(0))])[0] ?? '', /"2025-12-31T23:59:59\.999999999Z"/)
  assert.match(encoded([record(1_767_225_600_000_000_001n, Buffer.alloc(0))])[0] ?? '', /"2026-01-01T00:00:00\.000000001Z"/)
  assert.match(encoded([record(-1n, Buffer.alloc(0))])[0] ?? '', /"1969-12-31T23:59:59\.999999999Z"/)
})

test('every byte value, escapes, multi-byte characters, invalid UTF-8 and large sequences come out as JSON.stringify writes them', () => {
  const lines = [
    Buffer.from(Array.from({ length: 256 }, (_, b) => b)), Buffer.from(Array.from({ length: 128 }, (_, b) => b)),
    Buffer.from(''), Buffer.from('quote " backslash \\ tab \t slash / del \x7f'), Buffer.from([0x1b, 0x5b, 0x31, 0x6d, 0x00]),
    Buffer.from('héllo wörld ✓ 𝄞 😀'), Buffer.from('\u2028 line separator \u2029'),
    Buffer.from([0xff, 0xfe, 0x20, 0xc3]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from([0xe2, 0x82]), Buffer.from('ok \u00e9'.repeat(3) + '\n\r'), Buffer.from('x'.repeat(70_000)),
  ]
  const records = lines.flatMap((line, i) => [record(1_795_998_399_333_000_000n + BigInt(i), line, i + 1), record(1n, line, 1_000_000 + i, other)])
  for (const sequence of [9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER]) records.push(record(5n, Buffer.from('n'), sequence))
  assert.deepEqual(encoded(records), records.map(referenceRecordJson))
})

test('a batch body with separators grows past its estimate and stays exact', () => {
  // Lines of control characters take six bytes each: six times the writer's estimate.
  const records = Array.from({ length: 50 }, (_, i) => record(1_795_998_399_333_000_000n + BigInt(i) * 999_999_937n, Buffer.alloc(1000 * (i % 3), 0x01), i))
  const body = new RecordBodyWriter(records)
  body.byte(0x5b)
  records.forEach((r, i) => {
    if (i > 0) body.text(',')
    body.record(r)
  })
  body.byte(0x5d)
  assert.equal(body.finish().toString('utf8'), `[${records.map(referenceRecordJson).join(',')}]`)
})

test('events and parsed JSON lines come out as the reference has them: line counts, the line\'s fields, promoted ones', () => {
  const lines = [
    '{"level":30,"time":1733212800123,"msg":"hello","n":-1.5e3,"s":"t\\"ab\\u0001"}', '{}', '{ }', '{"message":"m","host":"h","a":[1,{"b":null}]}',
    '{"ts":"2024-12-03T08:00:00.5+02:00","level":"WARN","msg":"w\u00e9"}', '{\n "a": 1\n}', 'not json',
  ]
  const records: LogRecord[] = []
  lines.forEach((line, i) => {
    const base = { ...record(1_795_998_399_333_000_000n + BigInt(i), Buffer.from(line), i + 1, i % 2 === 0 ? meta : other), event: { lines: i + 1, last: i + 1, ackFrom: i + 1, ackTo: i + 2 } }
    records.push(jsonParser({ key: undefined, promote: [] })(base), jsonParser({ key: undefined, promote: ['message', 'level', 'time'] })(base),
      jsonParser({ key: 'json', promote: ['level'] })(base))
  })
  assert.ok(records.filter((r) => r.json !== undefined).length >= 15)
  // The line's object is written as the container wrote it (-1.5e3, { }): equal once parsed.
  assert.deepEqual(encoded(records).map((t) => JSON.parse(t) as unknown), records.map((r) => JSON.parse(referenceRecordJson(r)) as unknown))
})
