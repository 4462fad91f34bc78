import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { pino } from 'pino'
import { ContainerLog } from '../../src/store/container-log.js'
import { RecordReader } from '../../src/store/record-reader.js'
import { containerMeta } from '../helpers/records.js'

// The reader keeps one chunk of a segment between reads; these are the edges of that chunk:
// records that straddle it, a record larger than it, a segment that grows after it was read,
// segment ends, and a segment the ring removed.
const silent = pino({ level: 'silent' })
const meta = containerMeta()
const dirs: string[] = []
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }) })

function containerLog (maxSize = 1e12): ContainerLog {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-reader-'))
  dirs.push(dir)
  return new ContainerLog('c', dir, maxSize, silent)
}

function lineOf (i: number, size: number): Buffer {
  return Buffer.from(`${i}:`.padEnd(size, 'x'))
}

function append (log: ContainerLog, from: number, count: number, size: (i: number) => number): void {
  for (let i = from; i < from + count; i++) log.append({ stream: i % 2 === 0 ? 'stdout' : 'stderr', time: { hi: 1, lo: i }, line: lineOf(i, size(i)), complete: i % 7 !== 0 })
  log.flush()
}

async function readAll (reader: RecordReader, from: number, batch: number): Promise<{ sequences: number[], missing: number }> {
  const sequences: number[] = []
  let missing = 0
  for (let next = from; ;) {
    const read = await reader.read(next, batch, 1e9)
    missing += read.missing
    next += read.missing
    if (read.records.length === 0) return { sequences, missing }
    for (const record of read.records) {
      assert.equal(record.sequence, next, 'records come in sequence')
      const i = record.sequence - 1
      assert.deepEqual(record.line, lineOf(i, record.line.length))
      assert.equal(record.line.subarray(0, `${i}:`.length).toString(), `${i}:`)
      assert.equal(record.stream, i % 2 === 0 ? 'stdout' : 'stderr')
      assert.equal(record.complete, i % 7 !== 0)
      assert.deepEqual(record.time, { hi: 1, lo: i })
      assert.equal(record.container, meta)
      sequences.push(record.sequence)
      next = record.sequence + 1
    }
  }
}

test('reads every record once, in order, across chunk and segment ends and in any batch size', async () => {
  const log = containerLog()
  // Sizes that do not divide the 1 MiB chunk, one record of 3 MiB, and a few empty lines.
  append(log, 0, 30_000, (i) => i === 12_345 ? 3 * 1024 * 1024 : i % 1000 === 0 ? 0 : 50 + (i * 37) % 300)
  for (const batch of [1, 997, 100_000]) {
    const { sequences, missing } = await readAll(new RecordReader(log, meta), 1, batch)
    assert.equal(missing, 0)
    assert.equal(sequences.length, 30_000, `batches of ${batch}`)
  }
})

test('starts in the middle, and reads on as the segment grows after its chunk was read', async () => {
  const log = containerLog()
  append(log, 0, 1000, () => 100)
  const reader = new RecordReader(log, meta)
  const first = await reader.read(501, 10_000, 1e9)
  assert.deepEqual(first.records.map((r) => r.sequence), Array.from({ length: 500 }, (_, i) => 501 + i))
  append(log, 1000, 1000, () => 100)
  const { sequences } = await readAll(reader, 1001, 300)
  assert.deepEqual(sequences, Array.from({ length: 1000 }, (_, i) => 1001 + i))
})

test('counts the records the ring removed and goes on from the oldest one left', async () => {
  const log = containerLog(64 * 1024)
  append(log, 0, 5000, () => 100)
  assert.ok(log.firstSequence > 1, 'the ring removed old segments')
  const { sequences, missing } = await readAll(new RecordReader(log, meta), 1, 500)
  assert.equal(missing, log.firstSequence - 1)
  assert.equal(sequences[0], log.firstSequence)
  assert.equal(sequences.length + missing, 5000)
})
