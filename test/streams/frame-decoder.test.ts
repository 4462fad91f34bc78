import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FrameDecoder, type CorruptRegion } from '../../src/streams/frame-decoder.js'
import { decodeLogEntry } from '../../src/streams/log-entry.js'
import { daemonFrame } from '../helpers/fifo.js'

// The decoder on its own, fed the bytes a FIFO would carry; what it stores is what it hands on.

interface Decoded {
  readonly lines: string[]
  readonly corrupt: CorruptRegion[]
  readonly decoder: FrameDecoder
}

function decoder (): Decoded {
  const lines: string[] = []
  const corrupt: CorruptRegion[] = []
  const decoder = new FrameDecoder({ entry: (e) => lines.push(e.line.toString('latin1')), corrupt: (c) => corrupt.push(c) })
  return { lines, corrupt, decoder }
}

function decodeAll (bytes: Buffer, chunk = bytes.length): Decoded {
  const d = decoder()
  for (let at = 0; at < bytes.length; at += chunk) d.decoder.push(bytes.subarray(at, at + chunk))
  d.decoder.end()
  return d
}

function lines (prefix: string, count: number, size = 60): Buffer[] {
  return Array.from({ length: count }, (_, i) => daemonFrame(`${prefix}-${i}-`.padEnd(size, 'x')))
}

// The line a frame carries.
function text (frame: Buffer): string {
  return decodeLogEntry(frame, 4, frame.length - 4).line.toString('latin1')
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

test('a length too short by whole fields: the frame it leaves is not stored, the next one is', () => {
  // Found by the fault suite: a length that stops right after time_nano leaves a well-formed
  // entry with an empty line, and the line field that follows it is no frame.
  const wrong = daemonFrame('the rest of this frame is a line field')
  wrong.writeUInt32BE(8 + 10)
  const d = decodeAll(Buffer.concat([wrong, daemonFrame('next'), daemonFrame('x'.repeat(300)), Buffer.alloc(4, 0xff)]))
  assert.deepEqual(d.lines, ['next', 'x'.repeat(300)])
})

test('a frame cut inside its line length takes no following frame for its line', () => {
  // Found by the fault suite: the cut left a varint continuation byte, which the next frame's
  // first byte ended, and the line so made covered the next frame exactly.
  const next = daemonFrame('the frame right after the cut')
  const cut = daemonFrame(Buffer.alloc(200, 0x63))
  const lengthAt = 4 + 8 + 10 + 1
  const mangled = Buffer.from(cut.subarray(0, lengthAt + 1))
  mangled[lengthAt] = 0x80 | (next.length - 1)
  const d = decodeAll(Buffer.concat([mangled, next, daemonFrame('after')]))
  assert.deepEqual(d.lines, ['the frame right after the cut', 'after'])
})

test('frames split at every byte decode the same as whole', () => {
  const frames = Buffer.concat([daemonFrame('one'), daemonFrame('', { partial: true, partialId: 'p'.repeat(64), partialOrdinal: 2, partialLast: true }), daemonFrame('three', { source: 'stderr' })])
  assert.deepEqual(decodeAll(frames, 1).lines, ['one', '', 'three'])
  assert.deepEqual(decodeAll(frames, 1).corrupt, [])
})

test('garbage made of frame-like headers at every offset is skipped without being decoded', () => {
  // Every offset starts like a frame of the daemon's (a plausible length, then a stdout source
  // field) and claims up to a megabyte: none may be waited for or decoded whole.
  const unit = Buffer.from([0x00, 0x0f, 0xff, 0xf0, 0x0a, 0x06, 0x73, 0x74, 0x64, 0x6f, 0x75, 0x74, 0x10, 0x01, 0x1a, 0x05])
  const garbage = Buffer.concat(Array.from({ length: 4096 }, () => unit))
  const d = decodeAll(Buffer.concat([daemonFrame('a'), garbage, daemonFrame('b'), daemonFrame('c')]), 65536)
  assert.deepEqual(d.lines, ['a', 'b', 'c'])
})

test('a frame cut short whose length reaches exactly to a later frame boundary is not stored', () => {
  // The cut frame's line then holds the frames after the cut, header and all: its shape is
  // whole and the next frame is where its length says. Its line holds a 0x0a (a frame header's
  // source tag), which a line of the daemon's never does: that gives it away.
  const cut = daemonFrame('x'.repeat(100))
  const keep = 50
  const filler = daemonFrame('f'.repeat(cut.length - keep - 24 - 40))
  const rest = cut.length - keep - filler.length
  const exact = daemonFrame('e'.repeat(rest - 24))
  assert.equal(keep + filler.length + exact.length, cut.length, 'the cut frame ends where `exact` does')
  const d = decoder()
  d.decoder.push(Buffer.concat([cut.subarray(0, keep), filler, exact, daemonFrame('next')]))
  assert.deepEqual(d.lines, [text(filler), text(exact), 'next'])
})

// What a container's output becomes in the FIFO: the daemon's copier splits it at each '\n',
// drops the '\n', and cuts lines of more than 16 KiB into pieces (copier.go).
function copierFrames (output: Buffer): Buffer[] {
  const frames: Buffer[] = []
  let start = 0
  for (let i = 0; i <= output.length; i++) {
    if (i < output.length && output[i] !== 0x0a) continue
    for (let at = start; at < i || at === start; at += 16384) frames.push(daemonFrame(output.subarray(at, Math.min(i, at + 16384))))
    start = i + 1
  }
  return frames
}

test('a stream picked up inside a frame resyncs on a real frame, whatever the container wrote', () => {
  // Regression (issue 13): after a restart that began mid-frame, bytes from inside a line were
  // taken for a frame and stored as a line of their own (log injection). Here a container's
  // output is made of the very frames it would like to inject, among random bytes.
  let seed = 0x13
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return seed / 2 ** 32
  }
  for (let round = 0; round < 40; round++) {
    const parts: Buffer[] = []
    for (let i = 0; i < 12; i++) {
      parts.push(random() < 0.5
        ? daemonFrame(`FORGED-${i}-line`, { source: random() < 0.5 ? 'stdout' : 'stderr' })
        : Buffer.from(Array.from({ length: Math.floor(random() * 400) }, () => Math.floor(random() * 256))))
    }
    const frames = copierFrames(Buffer.concat(parts))
    const real = new Set(frames.map(text))
    const stream = Buffer.concat(frames)
    const firstFrames = (frames[0]?.length ?? 0) + (frames[1]?.length ?? 0)
    for (let start = 1; start < Math.min(firstFrames, stream.length); start++) {
      const d = decodeAll(stream.subarray(start))
      for (const line of d.lines) assert.ok(real.has(line), `round ${round}, start ${start}: stored a line no frame carried`)
      assert.ok(!d.lines.some((l) => l.startsWith('FORGED')), `round ${round}, start ${start}: a forged line was stored`)
    }
  }
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
  d.decoder.push(Buffer.from('garbage'))
  assert.equal(d.decoder.bytesToBoundary(), -1)
})
