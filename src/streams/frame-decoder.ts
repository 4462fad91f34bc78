import { daemonEntryShape, decodeLogEntry, shapeEnd, shapeLineEnd, shapeLineStart, SHAPE_BAD, SHAPE_NEED, SHAPE_OK, type LogEntry, type Shape } from './log-entry.js'

// The daemon never writes a frame larger than about 16.5 KiB (a 16 KiB chunk plus metadata);
// anything far beyond that is corruption, not data (protocol.md, item 20).
export const MAX_FRAME_BYTES = 1024 * 1024
// source (8 bytes) and time_nano (at least 2): a LogEntry the daemon writes is never shorter.
const MIN_ENTRY_BYTES = 10
const NEWLINE = 0x0a

export interface CorruptRegion {
  readonly offset: number
  readonly skippedBytes: number
  readonly reason: string
}

export interface FrameSink {
  entry: (entry: LogEntry) => void
  corrupt: (region: CorruptRegion) => void
}

// What frameAt found, beside its answer: where the frame ends, and why it is not one.
let frameEnd = 0
let badLength = 0
let badWhy: 'cap' | 'short' | 'shape' = 'shape'

function badReason (): string {
  if (badWhy === 'cap') return `frame length ${badLength} exceeds the ${MAX_FRAME_BYTES}-byte cap`
  if (badWhy === 'short') return `frame length ${badLength} is too short for a LogEntry`
  return 'frame is not a LogEntry as the daemon writes it'
}

// Whether buf[at, ...) is a whole frame of the daemon's shape; cheap at any offset: the length,
// then the fields' headers, never the line's bytes (log-entry.ts, daemonEntryShape).
function frameAt (buf: Buffer, at: number): Shape {
  if (buf.length - at < 4) return SHAPE_NEED
  const length = buf.readUInt32BE(at)
  badLength = length
  if (length > MAX_FRAME_BYTES) {
    badWhy = 'cap'
    return SHAPE_BAD
  }
  if (length < MIN_ENTRY_BYTES) {
    badWhy = 'short'
    return SHAPE_BAD
  }
  frameEnd = at + 4 + length
  const shape = daemonEntryShape(buf, at + 4, frameEnd, buf.length)
  badWhy = 'shape'
  return shape
}

const NORMAL = 0
const SEARCH = 1

// Splits the FIFO byte stream into LogEntry frames: 4-byte big-endian length + protobuf. Frames
// may arrive split across reads or several per read. A frame is taken only when its bytes have
// the daemon's shape (log-entry.ts, daemonEntryShape), so a wrong length or a frame cut short is
// seen at once instead of being decoded into a garbled entry or waited for.
//
// The protocol has no resync marker, yet resync cannot be fooled by what a container writes. The
// daemon's copier splits output at '\n' and drops it (copier.go), so no line it writes holds the
// byte 0x0a; and every frame has 0x0a four bytes in, the tag of its source field, followed by
// 06 "stdout" or "stderr". A frame start found inside a line would need that byte inside the line.
// Near a line's end the four length bytes before a 0x0a in the daemon's own bytes (the next
// header, time_nano, the metadata) make a length over MAX_FRAME_BYTES, or the source that follows
// is not there. So the first offset that passes is a real frame boundary, after a restart that
// began inside a frame (issue 13: bytes from inside a line were taken for frames) or after
// corrupt bytes, and nothing has to be held back to find out. The same fact catches a frame cut
// short whose length reaches exactly to a later boundary: its "line" holds a frame header, hence
// a 0x0a, which a line of the daemon's never does.
//
// - NORMAL: in step with the frames. A frame of the right shape is taken, unless a frame starts
//   inside it while the bytes after it are no frame or its line holds a 0x0a: then it was cut
//   short (issue 13: a truncated frame stored a garbled entry and lost the next
//   line). A frame whose length is wrong but whose fields are whole ends where its fields end,
//   and the next frame starts there.
// - SEARCH: every offset is tried, cheaply, and the first frame of the daemon's shape is taken.
//
// Work per byte is bounded: a frame's shape costs a few steps per field (at most 64 fields),
// never its line, and nothing is decoded before it is taken, so no input can stall the event
// loop for the plugin's other containers (issue 13: protobufjs decoding 1 MiB candidates at every
// offset of 10 MB of garbage stalled it for seconds).
export class FrameDecoder {
  readonly #sink: FrameSink
  #buf: Buffer = Buffer.alloc(0)
  // The stream offset of #buf[0].
  #base = 0
  #mode = NORMAL
  // NORMAL and SEARCH: the next offset to look at, in #buf.
  #at = 0
  // NORMAL: how far the search for a frame inside a cut-short one has gone, as a stream offset.
  #innerOf = -1
  #innerFrom = 0
  #corruptStart = -1
  #corruptReason = ''

  constructor (sink: FrameSink) {
    this.#sink = sink
  }

  // Every frame the bytes so far complete is delivered; the bytes past them are kept.
  push (chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    this.#run(false)
    this.#compact()
  }

  // At EOF whatever is left is a frame the daemon never finished, or garbage: it is reported.
  end (): void {
    this.#run(true)
    const end = this.#base + this.#buf.length
    this.#closeCorrupt(end)
    this.#buf = Buffer.alloc(0)
    this.#base = end
    this.#at = 0
  }

  // How many more bytes end the frame being read, so that a reader stopping there leaves the
  // FIFO on a frame boundary for the next process: 0 when it is on one already, -1 when the
  // decoder is looking for frames after corrupt bytes.
  bytesToBoundary (): number {
    if (this.#mode !== NORMAL) return -1
    const left = this.#buf.length - this.#at
    if (left === 0) return 0
    if (left < 4) return 4 - left
    return Math.max(4 + this.#buf.readUInt32BE(this.#at) - left, 1)
  }

  #run (final: boolean): void {
    while (this.#mode === NORMAL ? this.#normal(final) : this.#search(final));
  }

  #normal (final: boolean): boolean {
    const buf = this.#buf
    const at = this.#at
    if (at >= buf.length) return false
    const shape = frameAt(buf, at)
    if (shape === SHAPE_NEED) {
      if (!final) return false
      this.#markCorrupt(this.#base + at, `truncated frame at end of stream (${buf.length - at} bytes)`)
      return this.#lost(at)
    }
    if (shape === SHAPE_BAD) {
      const reason = badReason()
      const resume = this.#fieldsEnd(at, final)
      if (resume === SHAPE_NEED) return false
      if (resume > 0) return this.#wrongLength(at, resume)
      this.#markCorrupt(this.#base + at, reason)
      return this.#lost(at)
    }
    const end = frameEnd
    const entry = decodeLogEntry(buf, at + 4, end - at - 4)
    if (entry.line.includes(NEWLINE) || (end < buf.length && frameAt(buf, end) === SHAPE_BAD)) {
      // A length too short by whole fields leaves a frame of the right shape, and its fields
      // go on past it up to the next frame.
      const resume = this.#fieldsEnd(at, final)
      if (resume === SHAPE_NEED) return false
      if (resume > 0) return this.#wrongLength(at, resume)
      const inner = this.#innerFrame(at, end, final)
      if (inner === SHAPE_NEED) return false
      if (inner > 0) {
        this.#markCorrupt(this.#base + at, `frame of ${end - at - 4} bytes cut short by a frame ${inner - at} bytes into it`)
        return this.#resume(inner)
      }
    }
    this.#sink.entry(entry)
    this.#at = end
    return true
  }

  // A frame whose length is wrong but whose fields are whole: where its fields end, if a frame
  // starts there. 0 when there is none, SHAPE_NEED to wait for bytes.
  #fieldsEnd (at: number, final: boolean): number {
    const buf = this.#buf
    const declared = at + 4 + buf.readUInt32BE(at)
    const shape = daemonEntryShape(buf, at + 4, at + 4 + MAX_FRAME_BYTES, buf.length, true)
    if (shape !== SHAPE_BAD) return final || shape === SHAPE_OK ? 0 : SHAPE_NEED
    const end = shapeEnd
    if (end === declared || end < at + 4 + MIN_ENTRY_BYTES) return 0
    // Fields that run over the next frame's header are no fields of this one: a line of the
    // daemon's never holds a 0x0a, and a header always does.
    if (buf.subarray(shapeLineStart, shapeLineEnd).includes(NEWLINE)) return 0
    const next = frameAt(buf, end)
    if (next === SHAPE_NEED) return final ? 0 : SHAPE_NEED
    return next === SHAPE_OK ? end : 0
  }

  // A frame of the daemon's shape that starts inside the frame at `at`: there is one only when
  // `at` was cut short, since no frame start fits inside a frame the daemon wrote whole. 0 when
  // there is none, SHAPE_NEED to wait for bytes.
  #innerFrame (at: number, end: number, final: boolean): number {
    const buf = this.#buf
    let p = this.#innerOf === this.#base + at ? this.#innerFrom - this.#base : at + 1
    this.#innerOf = this.#base + at
    for (; p < end; p++) {
      const shape = frameAt(buf, p)
      if (shape === SHAPE_OK) return p
      if (shape === SHAPE_NEED && !final) {
        this.#innerFrom = this.#base + p
        return SHAPE_NEED
      }
    }
    return 0
  }

  #wrongLength (at: number, fieldsEnd: number): boolean {
    this.#markCorrupt(this.#base + at, `frame length ${this.#buf.readUInt32BE(at)} does not match its fields (${fieldsEnd - at - 4} bytes)`)
    return this.#resume(fieldsEnd)
  }

  #resume (at: number): boolean {
    this.#closeCorrupt(this.#base + at)
    this.#at = at
    return true
  }

  // In step no more: look for the next frame from the byte after `at`.
  #lost (at: number): boolean {
    this.#mode = SEARCH
    this.#at = at + 1
    return true
  }

  #search (final: boolean): boolean {
    const buf = this.#buf
    for (let p = this.#at; p < buf.length; p++) {
      const shape = frameAt(buf, p)
      if (shape === SHAPE_OK) {
        this.#mode = NORMAL
        return this.#resume(p)
      }
      if (shape === SHAPE_NEED && !final) {
        this.#at = p
        return false
      }
    }
    this.#at = buf.length
    return false
  }

  // Drops the bytes nothing will look at again; the leftover is copied so a small tail does not
  // pin a whole read buffer.
  #compact (): void {
    const cut = this.#at
    if (cut <= 0) return
    this.#buf = cut >= this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(cut))
    this.#base += cut
    this.#at = 0
  }

  #markCorrupt (offset: number, reason: string): void {
    if (this.#corruptStart >= 0) return
    this.#corruptStart = offset
    this.#corruptReason = reason
  }

  #closeCorrupt (at: number): void {
    if (this.#corruptStart < 0) return
    const region = { offset: this.#corruptStart, skippedBytes: at - this.#corruptStart, reason: this.#corruptReason }
    this.#corruptStart = -1
    if (region.skippedBytes > 0) this.#sink.corrupt(region)
  }
}
