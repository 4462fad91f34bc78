import { daemonEntryShape, decodeLogEntry, shapeEnd, SHAPE_BAD, SHAPE_NEED, SHAPE_OK, type LogEntry, type Shape } from './log-entry.js'

// The daemon never writes a frame larger than about 16.5 KiB (a 16 KiB chunk plus metadata);
// anything far beyond that is corruption, not data (protocol.md, item 20).
export const MAX_FRAME_BYTES = 1024 * 1024
// The largest frame the daemon writes: 16 KiB of line (copier.go's buffer) and its metadata,
// about 110 bytes, with room to spare.
export const DAEMON_MAX_FRAME_BYTES = 16 * 1024 + 1024
// source (8 bytes) and time_nano (at least 2): a LogEntry the daemon writes is never shorter.
const MIN_ENTRY_BYTES = 10
// After a restart, what the decoder holds while it cannot tell frames from bytes inside a line,
// and how many readings of the stream it follows at once (see SUSPECT below).
const SUSPECT_HOLD_MAX_BYTES = 4 * DAEMON_MAX_FRAME_BYTES
const SUSPECT_MAX_CHAINS = 32

export interface CorruptRegion {
  readonly offset: number
  readonly skippedBytes: number
  readonly reason: string
  // Frames that had the daemon's shape but were dropped because they could not be told apart
  // from bytes inside a line (after a restart that may have begun mid-frame).
  readonly unverifiedFrames: number
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

// A whole frame at `at` whose next frame, when bytes of it are there, is not plainly wrong.
function chainsOn (buf: Buffer, at: number): Shape {
  const shape = frameAt(buf, at)
  if (shape !== SHAPE_OK) return shape
  const end = frameEnd
  const next = end < buf.length ? frameAt(buf, end) : SHAPE_NEED
  frameEnd = end
  return next === SHAPE_BAD ? SHAPE_BAD : SHAPE_OK
}

const NORMAL = 0
const SEARCH = 1
const SUSPECT = 2

// Splits the FIFO byte stream into LogEntry frames: 4-byte big-endian length + protobuf. Frames
// may arrive split across reads or several per read. A frame is taken only when its bytes have
// the daemon's shape, so a wrong length or a cut-short frame is seen at once instead of being
// decoded into a garbled entry or waited for. The protocol has no resync marker; how the
// decoder finds frames again depends on why it lost them:
//
// - NORMAL: in step with the daemon. A frame of the right shape is taken, unless the bytes after
//   it are no frame and a frame that chains on starts inside it: then it was cut short (issue 13:
//   a truncated frame stored a garbled entry and lost the next line). A frame whose length is
//   wrong but whose fields are whole ends where its fields end, and the next frame starts there.
// - SEARCH: after corrupt bytes in the middle of a stream, every offset is tried, cheaply, and
//   the first frame of the right shape is taken. Only another writer on the FIFO corrupts a
//   stream the daemon writes, and such a writer could write frames of its own; holding back
//   lines to guard against it would only delay them.
// - SUSPECT: after a restart, the first bytes may be the middle of a frame the previous process
//   had half read, and inside a line a container can write bytes that have every mark of a frame
//   (issue 13: log injection). No check on the bytes alone can tell such a frame from a real one,
//   but the real frame that holds a forged one ends at most one daemon frame (16.5 KiB) after the
//   first candidate. So every offset in that window starts a reading of the stream (a chain of
//   frames, each starting where the last ended), and frames are held, not stored. A reading that
//   meets another, or that reaches an offset where one starts, disagrees with it about every
//   frame before that offset: those frames could be bytes of the line the restart cut into, and
//   are dropped; so is a reading that runs into bytes that are no frame. Once the window has been
//   read and one reading is left, its frames are stored and the decoder is in step again.
//   The trade-off: a forged line is never stored as a line of its own, and the price is paid in
//   real lines. The frames that start within the window (up to 16.5 KiB after the restart) are
//   dropped and counted (unverifiedFrames), as are frames not verified when the stream ends;
//   lines wait until the stream goes on past the window. Only an unclean restart pays it: a
//   clean one stops reading on a frame boundary, and the next process starts NORMAL.
//
// Work per byte is bounded (a frame's shape costs a few steps per field, at most 64 fields, and
// at most SUSPECT_MAX_CHAINS readings are followed), and nothing is decoded before it is taken,
// so no input can stall the event loop for the plugin's other containers.
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
  // SUSPECT, as stream offsets: the next offset to try as a start, the end of the window of
  // starts (-1 before the first candidate), and the readings by the offset each expects next,
  // with the frames each holds as [start, end] pairs.
  #scan = 0
  #startsEnd = -1
  readonly #chains = new Map<number, number[]>()
  #held = 0
  #corruptStart = -1
  #corruptReason = ''
  #unverified = 0

  constructor (sink: FrameSink, options: { readonly suspect?: boolean } = {}) {
    this.#sink = sink
    if (options.suspect === true) {
      this.#mode = SUSPECT
      this.#markCorrupt(0, 'the stream was picked up after a restart and may have begun inside a frame')
    }
  }

  // The frames that can be verified so far are delivered; the bytes past them are kept.
  push (chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    this.#run(false)
    this.#compact()
  }

  // At EOF whatever is left is a frame the daemon never finished, or garbage, or frames that
  // could not be verified: all of it is reported.
  end (): void {
    this.#run(true)
    const end = this.#base + this.#buf.length
    for (const spans of this.#chains.values()) this.#drop(spans)
    this.#chains.clear()
    this.#closeCorrupt(end)
    this.#buf = Buffer.alloc(0)
    this.#base = end
    this.#at = 0
  }

  // How many more bytes end the frame being read, so that a reader stopping there leaves the
  // FIFO on a frame boundary for the next process: 0 when it is on one already, -1 when the
  // decoder is not in step with the frames.
  bytesToBoundary (): number {
    if (this.#mode !== NORMAL) return -1
    const left = this.#buf.length - this.#at
    if (left === 0) return 0
    if (left < 4) return 4 - left
    return Math.max(4 + this.#buf.readUInt32BE(this.#at) - left, 1)
  }

  #run (final: boolean): void {
    for (;;) {
      const more = this.#mode === NORMAL
        ? this.#normal(final)
        : this.#mode === SEARCH ? this.#search(final) : this.#suspect(final)
      if (!more) return
    }
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
      this.#markCorrupt(this.#base + at, resume > 0 ? `frame length ${badLength} does not match its fields` : reason)
      if (resume > 0) return this.#resume(resume)
      return this.#lost(at)
    }
    const end = frameEnd
    if (end < buf.length && frameAt(buf, end) === SHAPE_BAD) {
      const inner = this.#innerFrame(at, end, final)
      if (inner === SHAPE_NEED) return false
      if (inner > 0) {
        this.#markCorrupt(this.#base + at, `frame of ${end - at - 4} bytes cut short by a frame ${inner - at} bytes into it`)
        return this.#resume(inner)
      }
    }
    this.#sink.entry(decodeLogEntry(buf, at + 4, end - at - 4))
    this.#at = end
    return true
  }

  // A frame whose length is wrong but whose bytes start like the daemon's: where its fields end,
  // if a frame that chains on starts there. 0 when there is none, SHAPE_NEED to wait for bytes.
  #fieldsEnd (at: number, final: boolean): number {
    const buf = this.#buf
    if (badWhy !== 'shape' || shapeEnd <= at + 4) return 0
    const shape = daemonEntryShape(buf, at + 4, at + 4 + MAX_FRAME_BYTES, buf.length)
    if (shape !== SHAPE_BAD) return final || shape === SHAPE_OK ? 0 : SHAPE_NEED
    const end = shapeEnd
    if (end === at + 4 + badLength || end < at + 4 + MIN_ENTRY_BYTES) return 0
    const next = chainsOn(buf, end)
    if (next === SHAPE_NEED) return final ? 0 : SHAPE_NEED
    return next === SHAPE_OK ? end : 0
  }

  // A frame that chains on and starts inside the frame at `at`, which the bytes after it show to
  // be cut short: 0 when there is none, SHAPE_NEED to wait for bytes.
  #innerFrame (at: number, end: number, final: boolean): number {
    const buf = this.#buf
    let p = this.#innerOf === this.#base + at ? this.#innerFrom - this.#base : at + 1
    this.#innerOf = this.#base + at
    for (; p < end; p++) {
      const shape = chainsOn(buf, p)
      if (shape === SHAPE_OK) return p
      if (shape === SHAPE_NEED && !final) {
        this.#innerFrom = this.#base + p
        return SHAPE_NEED
      }
    }
    return 0
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

  #suspect (final: boolean): boolean {
    const buf = this.#buf
    const base = this.#base
    const dataEnd = base + buf.length
    for (;;) {
      const starts = this.#startsEnd < 0 || this.#scan < this.#startsEnd
      let p = starts ? this.#scan : Number.MAX_SAFE_INTEGER
      for (const next of this.#chains.keys()) if (next < p) p = next
      if (p >= dataEnd) return false
      const shape = frameAt(buf, p - base)
      if (shape === SHAPE_NEED && !final) return false
      const isStart = starts && p === this.#scan
      let spans = this.#chains.get(p)
      if (spans !== undefined) this.#chains.delete(p)
      if (shape === SHAPE_OK) {
        const end = base + frameEnd
        // A reading starting here and one arriving here disagree about every frame before.
        if (spans !== undefined && isStart) this.#drop(spans)
        if (spans === undefined && isStart) {
          spans = []
          if (this.#startsEnd < 0) this.#startsEnd = p + DAEMON_MAX_FRAME_BYTES
        }
        if (spans !== undefined) {
          spans.push(p, end)
          this.#held += end - p
          const met = this.#chains.get(end)
          if (met !== undefined) {
            this.#drop(met)
            this.#drop(spans)
          } else {
            this.#chains.set(end, spans)
          }
        }
      } else if (spans !== undefined) {
        this.#drop(spans)
      }
      if (isStart) this.#scan = p + 1
      // Past these bounds the stream is being made ambiguous on purpose: give up what is held and
      // look for a fresh window further on. Only the container's own lines are lost.
      if (this.#held > SUSPECT_HOLD_MAX_BYTES || this.#chains.size > SUSPECT_MAX_CHAINS) {
        for (const held of this.#chains.values()) this.#drop(held)
        this.#chains.clear()
        this.#startsEnd = -1
      }
      if (this.#startsEnd >= 0 && this.#scan >= this.#startsEnd) {
        if (this.#chains.size === 0) this.#startsEnd = -1
        if (this.#chains.size === 1) return this.#settle()
      }
    }
  }

  // One reading is left: its frames are the stream's, and the decoder is in step from its end.
  #settle (): boolean {
    const [[next, spans]] = [...this.#chains] as [[number, number[]]]
    this.#chains.clear()
    this.#held = 0
    const base = this.#base
    this.#closeCorrupt(spans.length > 0 ? spans[0] as number : next)
    for (let i = 0; i < spans.length; i += 2) {
      const start = (spans[i] as number) - base
      this.#sink.entry(decodeLogEntry(this.#buf, start + 4, (spans[i + 1] as number) - base - start - 4))
    }
    this.#mode = NORMAL
    this.#at = next - base
    this.#startsEnd = -1
    return true
  }

  #drop (spans: number[]): void {
    for (let i = 0; i < spans.length; i += 2) this.#held -= (spans[i + 1] as number) - (spans[i] as number)
    this.#unverified += spans.length / 2
    spans.length = 0
  }

  // Drops the bytes nothing will look at again; the leftover is copied so a small tail does not
  // pin a whole read buffer.
  #compact (): void {
    let keep = this.#base + this.#at
    if (this.#mode === SUSPECT) {
      keep = this.#scan
      for (const [next, spans] of this.#chains) keep = Math.min(keep, spans.length > 0 ? spans[0] as number : next)
    }
    const cut = keep - this.#base
    if (cut <= 0) return
    this.#buf = cut >= this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(cut))
    this.#base = keep
    this.#at -= cut
  }

  #markCorrupt (offset: number, reason: string): void {
    if (this.#corruptStart >= 0) return
    this.#corruptStart = offset
    this.#corruptReason = reason
  }

  #closeCorrupt (at: number): void {
    if (this.#corruptStart < 0) return
    const region = { offset: this.#corruptStart, skippedBytes: at - this.#corruptStart, reason: this.#corruptReason, unverifiedFrames: this.#unverified }
    this.#corruptStart = -1
    this.#unverified = 0
    if (region.skippedBytes > 0 || region.unverifiedFrames > 0) this.#sink.corrupt(region)
  }
}
