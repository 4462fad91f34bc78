import assert from 'node:assert/strict'
import { test } from 'node:test'
import { timeHalves, timeNanoOf, type StreamName } from '../../src/record.js'
import { storedEntryLength, writeStoredEntry } from '../../src/store/stored-entry.js'
import { decodeWithSchema } from '../../src/streams/log-entry.js'

// The store writes ReadLogs entries by hand for speed; the daemon decodes them with protobuf,
// so they must be exactly what protobufjs (and Go) would read back.
const cases: { stream: StreamName, timeNano: bigint, line: Buffer, newline: boolean }[] = [
  { stream: 'stdout', timeNano: 1_764_460_123_456_789_123n, line: Buffer.from('hello'), newline: true },
  { stream: 'stderr', timeNano: 1n, line: Buffer.from([0xff, 0x00, 0xfe]), newline: false },
  { stream: 'stdout', timeNano: 0n, line: Buffer.alloc(0), newline: false },
  { stream: 'stdout', timeNano: 127n, line: Buffer.alloc(0), newline: true },
  { stream: 'stderr', timeNano: -1_000_000_000n, line: Buffer.alloc(200_000, 0x61), newline: true },
  { stream: 'stdout', timeNano: 9_223_372_036_854_775_807n, line: Buffer.alloc(16_384, 0x62), newline: false },
]

for (const c of cases) {
  test(`a stored ${c.stream} entry of ${c.line.length} bytes at ${c.timeNano} decodes back exactly`, () => {
    const time = timeHalves(c.timeNano)
    const length = storedEntryLength(time, c.line.length + (c.newline ? 1 : 0))
    const buf = Buffer.alloc(length + 8, 0xee)
    const end = writeStoredEntry(buf, 4, c.stream, time, c.line, c.newline)
    assert.equal(end - 4, length)
    const entry = decodeWithSchema(buf, 4, end - 4)
    assert.equal(entry.source, c.stream)
    assert.equal(timeNanoOf(entry.time), c.timeNano)
    assert.deepEqual(entry.line, c.newline ? Buffer.concat([c.line, Buffer.from('\n')]) : c.line)
    assert.equal(entry.partial, false)
  })
}
