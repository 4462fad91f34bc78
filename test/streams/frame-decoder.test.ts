import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DAEMON_MAX_FRAME_BYTES, FrameDecoder, type CorruptRegion } from '../../src/streams/frame-decoder.js'
import { daemonFrame } from '../helpers/fifo.js'

// The decoder on its own, fed the bytes a FIFO would carry; what it stores is what it hands on.

interface Decoded {
  readonly lines: string[]
  readonly corrupt: CorruptRegion[]
  readonly decoder: FrameDecoder
}

function decoder (suspect = false): Decoded {
  const lines: string[] = []
  const corrupt: CorruptRegion[] = []
  const decoder = new FrameDecoder({ entry: (e) => lines.push(e.line.toString('latin1')), corrupt: (c) => corrupt.push(c) }, { suspect })
  return { lines, corrupt, decoder }
}

function decodeAll (bytes: Buffer, options: { suspect?: boolean, chunk?: number } = {}): Decoded {
  const d = decoder(options.suspect)
  const chunk = options.chunk ?? bytes.length
  for (let at = 0; at < bytes.length; at += chunk) d.decoder.push(bytes.subarray(at, at + chunk))
  d.decoder.end()
  return d
}

function lines (prefix: string, count: number, size = 60): Buffer[] {
  return Array.from({ length: count }, (_, i) => daemonFrame(`${prefix}-${i}-`.padEnd(size, 'x')))
}

// Enough clean frames to carry a reader past the window in which it cannot yet trust frames.
function pastTheWindow (prefix: string): Buffer[] {
  return lines(prefix, Math.ceil(3 * DAEMON_MAX_FRAME_BYTES / 84))
}

function text (frame: Buffer): string {
  return frame.subarray(24).toString('latin1')
}

// After an unclean restart the decoder drops the frames of the first window and keeps every
// one after it: what it stores is the frames' tail, and what it drops is counted.
function assertKeptTail (d: Decoded, frames: readonly Buffer[], what: string): void {
  const kept = d.lines.length
  assert.deepEqual(d.lines, frames.slice(frames.length - kept).map(text), `${what}: the lines kept are the stream's last ones, whole`)
  const windowFrames = Math.ceil(DAEMON_MAX_FRAME_BYTES / (frames[0]?.length ?? 1))
  assert.ok(kept >= frames.length - windowFrames - 1, `${what}: ${frames.length - kept} frames dropped, more than one window`)
  assert.ok((d.corrupt[0]?.unverifiedFrames ?? 0) >= frames.length - kept, `${what}: the dropped frames are counted`)
}

test('a truncated frame followed by whole ones: nothing garbled is stored and the next line is kept', () => {
  // Regression (issue 13): the cut-short frame's length swallowed the start of the next frame,
  // which decoded into a garbled entry, and the next valid line was lost.
  const cut = daemonFrame('this line was cut short by the writer'.repeat(3))
  const after = lines('after', 5)
  const expected = ['before', 'next', ...after.map(text)]
  for (const keep of [6, 20, 40, cut.length - 1]) {
    const d = decoder()
    d.decoder.push(Buffer.concat([daemonFrame('before'), cut.subarray(0, keep), daemonFrame('next'), ...after]))
    assert.deepEqual(d.lines, expected, `cut at ${keep}`)
    d.decoder.end()
    assert.equal(d.corrupt.length, 1)
    assert.equal(d.corrupt[0]?.skippedBytes, keep)
  }
})

test('a plausible but wrong length: the lines after it are handed on at once, not at EOF', () => {
  // Regression (issue 13): a length a little too long made the decoder wait for bytes that were
  // the following frames, so every following line waited for EOF.
  for (const delta of [7, 300, 40_000, -3]) {
    const wrong = daemonFrame('the length of this frame is wrong')
    wrong.writeUInt32BE(wrong.readUInt32BE(0) + delta)
    const d = decoder()
    d.decoder.push(Buffer.concat([daemonFrame('before'), wrong, daemonFrame('next'), daemonFrame('later')]))
    assert.deepEqual(d.lines, ['before', 'next', 'later'], `length off by ${delta}`)
    d.decoder.end()
    assert.equal(d.corrupt.length, 1)
    assert.equal(d.corrupt[0]?.skippedBytes, wrong.length)
  }
})

test('frames split at every byte decode the same as whole', () => {
  const frames = Buffer.concat([daemonFrame('one'), daemonFrame('', { partial: true, partialId: 'p'.repeat(64), partialOrdinal: 2, partialLast: true }), daemonFrame('three', { source: 'stderr' })])
  assert.deepEqual(decodeAll(frames, { chunk: 1 }).lines, ['one', '', 'three'])
  assert.deepEqual(decodeAll(frames, { chunk: 1 }).corrupt, [])
})

test('garbage made of frame-like headers at every offset is skipped without being decoded', () => {
  // Every offset starts like a frame of the daemon's (a plausible length, then a stdout source
  // field) and claims up to a megabyte: none may be waited for or decoded whole.
  const unit = Buffer.from([0x00, 0x0f, 0xff, 0xf0, 0x0a, 0x06, 0x73, 0x74, 0x64, 0x6f, 0x75, 0x74, 0x10, 0x01, 0x1a, 0x05])
  const garbage = Buffer.concat(Array.from({ length: 4096 }, () => unit))
  const d = decodeAll(Buffer.concat([daemonFrame('a'), garbage, daemonFrame('b'), daemonFrame('c')]), { chunk: 65536 })
  assert.deepEqual(d.lines, ['a', 'b', 'c'])
})

// A line a container can write: bytes that are, to the byte, frames of the daemon's.
function forgedLine (text: string, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => daemonFrame(`${text}${i}`, { source: 'stderr' })))
}

test('after a restart inside a line that holds forged frames, no forged line is stored', () => {
  // Regression (issue 13): a restart that began mid-frame could take bytes from inside a
  // container's line for frames of their own (log injection).
  const carrier = daemonFrame(Buffer.concat([Buffer.from('visible text, then: '), forgedLine('INJECTED', 5)]))
  const after = pastTheWindow('real')
  for (const startAt of [1, 10, 25, 30, 45]) {
    const d = decodeAll(Buffer.concat([carrier.subarray(startAt), ...after]), { suspect: true, chunk: 4096 })
    assert.ok(!d.lines.some((l) => l.includes('INJECTED')), `start at ${startAt}: a forged line was stored`)
    assertKeptTail(d, after, `start at ${startAt}`)
    assert.equal(d.corrupt.length, 1)
  }
})

test('after a restart, forged frames that do not reach the end of their line are not stored either', () => {
  const carrier = daemonFrame(Buffer.concat([Buffer.from('x'), forgedLine('INJECTED', 3), Buffer.from('tail that is no frame')]))
  const after = pastTheWindow('real')
  const d = decodeAll(Buffer.concat([carrier.subarray(20), ...after]), { suspect: true })
  assert.ok(!d.lines.some((l) => l.includes('INJECTED')))
  assertKeptTail(d, after, 'forged frames short of the line\'s end')
})

test('a container that keeps its forged frames straddling the real ones only loses its own lines', () => {
  // Each real line carries a forged frame whose line covers the next real frame's header, so
  // two readings of the stream stay consistent for as long as the container keeps it up.
  const real: Buffer[] = []
  const lineBytes = 200
  const realHeader = 4 + 8 + 10 + 3 // length, source, time_nano (9-byte varint), line tag and length
  for (let i = 0; i < 400; i++) {
    // A forged frame starting at `at` in this line, running into the next line by `into` bytes.
    const into = 30
    const at = into + 32
    const forgedLength = (lineBytes - at) + realHeader + into
    const inner = forgedLength - 4 - (8 + 10 + 3)
    const head = daemonFrame(Buffer.alloc(inner, 0x41), { source: 'stderr' }).subarray(0, 4 + 8 + 10 + 3)
    const line = Buffer.alloc(lineBytes, 0x2e)
    line.write(`L${i}`, 0, 'latin1')
    head.copy(line, at)
    // Where the previous line's forged frame ends, this line holds a forged frame that is whole.
    daemonFrame('INJECTED', { source: 'stderr' }).copy(line, into)
    real.push(daemonFrame(line))
  }
  const tail = pastTheWindow('after')
  const d = decodeAll(Buffer.concat([real[0]?.subarray(3) ?? Buffer.alloc(0), ...real.slice(1), ...tail]), { suspect: true, chunk: 8192 })
  // The real lines hold the forged bytes; a forged line stored would be one of them on its own.
  assert.ok(!d.lines.includes('INJECTED'), 'a forged line was stored')
  for (const line of d.lines) assert.ok(/^(L\d+|after-)/.test(line), `only real lines: ${line.slice(0, 20)}`)
  assert.ok(d.lines.filter((l) => l.startsWith('after-')).length > tail.length / 2, 'the stream is in step again once the container stops')
})

test('after a restart on a frame boundary, only the first window is given up', () => {
  const frames = pastTheWindow('clean')
  const d = decoder(true)
  d.decoder.push(Buffer.concat(frames))
  assertKeptTail(d, frames, 'boundary')
  assert.equal(d.corrupt.length, 1)
  d.decoder.end()
  assert.equal(d.corrupt.length, 1)
})

test('after a restart, frames that cannot be verified before EOF are reported, not stored', () => {
  // The trade-off of the suspect window: a stream that ends within one daemon frame of the
  // restart cannot show which of its bytes were frames.
  const d = decodeAll(Buffer.concat(lines('short', 5)), { suspect: true })
  assert.deepEqual(d.lines, [])
  assert.equal(d.corrupt[0]?.unverifiedFrames, 5)
})

test('the bytes left to a frame boundary, for a reader that stops cleanly', () => {
  const frame = daemonFrame('a line of some length')
  const d = decoder()
  assert.equal(d.decoder.bytesToBoundary(), 0)
  d.decoder.push(frame.subarray(0, 2))
  assert.equal(d.decoder.bytesToBoundary(), 2)
  d.decoder.push(frame.subarray(2, 10))
  assert.equal(d.decoder.bytesToBoundary(), frame.length - 10)
  d.decoder.push(frame.subarray(10))
  assert.equal(d.decoder.bytesToBoundary(), 0)
  assert.equal(decoder(true).decoder.bytesToBoundary(), -1)
})
