import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { setImmediate as tick } from 'node:timers/promises'
import { MAX_FRAME_BYTES, type CorruptRegion } from '../../src/streams/frame-decoder.js'
import { FifoReader } from '../../src/streams/fifo-reader.js'
import { timeHalves, timeNanoOf } from '../../src/record.js'
import type { LogEntry } from '../../src/streams/log-entry.js'
import { daemonFrame, DaemonFifo } from '../helpers/fifo.js'

interface Read {
  readonly lines: string[]
  readonly entries: LogEntry[]
  readonly corrupt: CorruptRegion[]
}

// Writes the chunks one read apart, closes the writer, and collects what the reader made of
// them by EOF.
async function readThrough (chunks: readonly Buffer[]): Promise<Read> {
  const fifo = new DaemonFifo()
  const reader = new FifoReader(fifo.path)
  const result: Read = { lines: [], entries: [], corrupt: [] }
  reader.on('entry', (e) => { result.entries.push(e); result.lines.push(e.line.toString()) })
  reader.on('corrupt', (c) => result.corrupt.push(c))
  assert.equal(reader.open(), true)
  const ended = once(reader, 'end')
  for (const chunk of chunks) {
    await fifo.write(chunk)
    await tick()
  }
  fifo.close()
  await ended
  fifo.remove()
  return result
}

test('decodes frames split across reads and several frames in one read', async () => {
  const frames = Buffer.concat(['one', 'two', 'three', 'four'].map((l) => daemonFrame(l)))
  const pieces = [frames.subarray(0, 3), frames.subarray(3, 10), frames.subarray(10, 11), frames.subarray(11)]
  const read = await readThrough(pieces)
  assert.deepEqual(read.lines, ['one', 'two', 'three', 'four'])
  assert.deepEqual(read.corrupt, [])
})

test('keeps time_nano to the nanosecond and the line as raw bytes', async () => {
  const raw = Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0x0d])
  const read = await readThrough([daemonFrame(raw, { time: timeHalves(1_764_460_123_456_789_123n), source: 'stderr' })])
  assert.equal(timeNanoOf(read.entries[0]?.time ?? { hi: 0, lo: 0 }), 1_764_460_123_456_789_123n)
  assert.deepEqual(read.entries[0]?.line, raw)
  assert.equal(read.entries[0]?.source, 'stderr')
})

test('reports a frame truncated by EOF and keeps the frames before it', async () => {
  const last = daemonFrame('cut short')
  const read = await readThrough([daemonFrame('whole'), last.subarray(0, last.length - 4)])
  assert.deepEqual(read.lines, ['whole'])
  assert.equal(read.corrupt.length, 1)
  assert.match(read.corrupt[0]?.reason ?? '', /truncated/)
})

test('reports an oversized length and resynchronises on the next frame', async () => {
  const bogus = Buffer.alloc(4)
  bogus.writeUInt32BE(MAX_FRAME_BYTES + 1)
  const read = await readThrough([daemonFrame('before'), bogus, daemonFrame('after'), daemonFrame('later')])
  assert.deepEqual(read.lines, ['before', 'after', 'later'])
  assert.equal(read.corrupt.length, 1)
  assert.match(read.corrupt[0]?.reason ?? '', /exceeds/)
  assert.equal(read.corrupt[0]?.skippedBytes, 4)
})

test('reports garbage bytes between frames once and recovers every frame after them', async () => {
  const garbage = Buffer.from('this is not a frame \x00\x00\x00\x10 at all, not even close\xff\xff')
  const read = await readThrough([daemonFrame('a'), garbage, daemonFrame('b'), garbage, daemonFrame('c')])
  assert.deepEqual(read.lines, ['a', 'b', 'c'])
  assert.equal(read.corrupt.length, 2)
  assert.deepEqual(read.corrupt.map((c) => c.skippedBytes), [garbage.length, garbage.length])
})

test('a garbage length that looks plausible does not swallow the frames after it', async () => {
  // A small length followed by bytes that are not a LogEntry must be rejected as soon as its
  // first bytes are seen, not after waiting for the length's worth of data.
  const fake = Buffer.alloc(6)
  fake.writeUInt32BE(50_000)
  const read = await readThrough([fake, daemonFrame('x'), daemonFrame('y')])
  assert.deepEqual(read.lines, ['x', 'y'])
  assert.equal(read.corrupt.length, 1)
})

test('a corrupt FIFO does not touch another FIFO read at the same time', async () => {
  const [broken, healthy] = await Promise.all([
    readThrough([Buffer.from('garbage garbage garbage'), daemonFrame('ok-1')]),
    readThrough([daemonFrame('h-1'), daemonFrame('h-2'), daemonFrame('h-3')]),
  ])
  assert.deepEqual(broken.lines, ['ok-1'])
  assert.deepEqual(healthy.lines, ['h-1', 'h-2', 'h-3'])
  assert.deepEqual(healthy.corrupt, [])
})

test('a FIFO that is already gone reads as a finished stream', () => {
  const reader = new FifoReader('/nonexistent/logrelay/fifo')
  assert.equal(reader.open(), false)
})
