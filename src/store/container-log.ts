import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import type { LogLine } from '../record.js'
import { storedEntryLength, writeStoredEntry } from './stored-entry.js'

// The local store of one container: a ring of segment files on disk, so memory stays flat
// however much is logged. It serves `docker logs`, and it is the hand-off to the sinks, which
// read from it at their own acknowledged positions. Each record is
//   [u32 payload length][i64 time_nano][payload][u32 payload length]
// where payload is the LogEntry ReadLogs sends back (the line with its '\n' when complete), so
// a read copies bytes out without re-encoding, filters by time without decoding, and the
// trailing length lets --tail walk backwards from the end like the daemon's `local` driver.
//
// Every record has a sequence number: a segment's file is named after the sequence of its
// first record, and records follow one by one. So a sequence survives restarts (it is where the
// record is), orders the records of one container, and is all a sink's position needs to be.

export const RECORD_OVERHEAD = 16
const SEGMENT_SUFFIX = '.seg'
// A batch is written at the latest once it holds this much, which bounds memory and keeps
// each segment within its share of the container's cap.
const MAX_BATCH_BYTES = 64 * 1024
const MIN_SEGMENT_BYTES = 16 * 1024

export interface Segment {
  // The sequence of its first record (for a store written before sequences were kept, a
  // counter: those records were delivered before any position was saved).
  readonly number: number
  size: number
}

function segmentName (n: number): string {
  return `${String(n).padStart(12, '0')}${SEGMENT_SUFFIX}`
}

export interface ContainerLogEvents {
  // New records are on disk.
  append: []
  idle: []
}

// Big-endian, without Buffer#writeUInt32BE's range checks: four of them a line were a tenth of
// the store's cost, and the values here are in range by construction.
function putUint32 (buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24
  buf[at + 1] = value >>> 16
  buf[at + 2] = value >>> 8
  buf[at + 3] = value
}

// Its reading counterpart, for the same reason: Buffer#readUInt32BE made a quarter of reading
// records back for a sink.
export function readUint32 (buf: Buffer, at: number): number {
  return ((buf[at] as number) * 0x1000000) + (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number))
}

const SCAN_CHUNK = 1024 * 1024

// How many whole records a segment holds and where the last one ends, read in large chunks. A
// plugin killed in the middle of a write leaves a torn record at the end, which the caller cuts
// off.
function scanSegment (file: string): { records: number, validBytes: number } {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    let chunk = Buffer.allocUnsafe(SCAN_CHUNK)
    let chunkStart = 0
    let chunkEnd = 0
    let at = 0
    let records = 0
    // Loads [from, from + bytes) into the chunk; false past the end of the file.
    const load = (from: number, bytes: number): boolean => {
      if (from >= chunkStart && from + bytes <= chunkEnd) return true
      if (from + bytes > size) return false
      if (bytes > chunk.length) chunk = Buffer.allocUnsafe(bytes)
      chunkStart = from
      chunkEnd = from + fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - from), from)
      return from + bytes <= chunkEnd
    }
    while (load(at, RECORD_OVERHEAD)) {
      const length = chunk.readUInt32BE(at - chunkStart)
      const end = at + length + RECORD_OVERHEAD
      if (!load(end - 4, 4) || chunk.readUInt32BE(end - 4 - chunkStart) !== length) break
      at = end
      records++
    }
    return { records, validBytes: at }
  } finally {
    fs.closeSync(fd)
  }
}

export class ContainerLog extends EventEmitter<ContainerLogEvents> {
  readonly id: string
  readonly dir: string
  maxSize: number
  #segments: Segment[] = []
  #fd: number | undefined
  // Allocated on first write and dropped when the container goes idle: a hundred idle
  // containers must not hold a hundred batch buffers.
  #batch: Buffer | undefined
  #pendingBytes = 0
  #pendingRecords = 0
  #flushScheduled = false
  #active = 0
  // The last sequence handed out.
  #sequence = 0
  // Records from this sequence on are not delivered yet: the ring keeps them.
  #keepFrom = Infinity
  readonly #log: Logger

  constructor (id: string, dir: string, maxSize: number, log: Logger) {
    super()
    this.setMaxListeners(0)
    this.id = id
    this.dir = dir
    this.maxSize = maxSize
    this.#log = log
    fs.mkdirSync(dir, { recursive: true })
    for (const name of fs.readdirSync(dir)) {
      if (!name.endsWith(SEGMENT_SUFFIX)) continue
      const number = Number(name.slice(0, -SEGMENT_SUFFIX.length))
      if (Number.isSafeInteger(number)) this.#segments.push({ number, size: fs.statSync(path.join(dir, name)).size })
    }
    this.#segments.sort((a, b) => a.number - b.number)
    const last = this.#segments.at(-1)
    if (last !== undefined) {
      const file = this.segmentPath(last.number)
      const { records, validBytes } = scanSegment(file)
      if (validBytes < last.size) {
        fs.truncateSync(file, validBytes)
        this.#log.warn({ container: id, segment: last.number, cutBytes: last.size - validBytes }, 'cut a torn record off the end of the local store (the plugin was killed while writing)')
        last.size = validBytes
      }
      this.#sequence = last.number + records - 1
    }
  }

  get active (): boolean {
    return this.#active > 0
  }

  segments (): readonly Segment[] {
    return this.#segments
  }

  segmentPath (n: number): string {
    return path.join(this.dir, segmentName(n))
  }

  get size (): number {
    return this.#segments.reduce((sum, s) => sum + s.size, 0) + this.#pendingBytes
  }

  // The last sequence handed out (0 for an empty store); appended records may still be in the
  // write batch until the next flush.
  get lastSequence (): number {
    return this.#sequence
  }

  // The first sequence still on disk.
  get firstSequence (): number {
    return this.#segments[0]?.number ?? this.#sequence + 1
  }

  // Delivery says which records it still needs; the ring only removes segments before them
  // (or, under buffer-full=drop-oldest, delivery gives records up first and says so here).
  keepFrom (sequence: number): void {
    this.#keepFrom = sequence
  }

  // Bytes on disk from the segment holding `sequence` to the end: the undelivered backlog of a
  // sink at that position, to within one segment.
  bytesFrom (sequence: number): number {
    let bytes = this.#pendingBytes
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const segment = this.#segments[i] as Segment
      bytes += segment.size
      if (segment.number <= sequence) break
    }
    return sequence > this.#sequence ? 0 : bytes
  }

  // The first sequence of the segment after the one holding `sequence`, or undefined when
  // that is the last one: what drop-oldest gives up to.
  nextSegmentStart (sequence: number): number | undefined {
    return this.#segments.find((s) => s.number > sequence)?.number
  }

  streamStarted (): void {
    this.#active++
  }

  streamEnded (): void {
    this.#active--
    if (this.#active > 0) return
    this.flush()
    this.#batch = undefined
    this.#closeFd()
    this.emit('idle')
  }

  // Lines are gathered for the rest of the tick (one FIFO read holds many frames) and written
  // with one write(2). Returns the line's sequence.
  append (line: LogLine): number {
    const newline = line.complete
    const time = line.time
    const payload = storedEntryLength(time, line.line.length + (newline ? 1 : 0))
    const size = payload + RECORD_OVERHEAD
    if (this.#batch === undefined || this.#pendingBytes + size > this.#batch.length) {
      this.flush()
      if (this.#batch === undefined || size > this.#batch.length) this.#batch = Buffer.allocUnsafe(Math.max(size, MAX_BATCH_BYTES * 2))
    }
    const buf = this.#batch
    const at = this.#pendingBytes
    putUint32(buf, at, payload)
    // time_nano as a big-endian int64, for filtering without decoding.
    putUint32(buf, at + 4, time.hi)
    putUint32(buf, at + 8, time.lo)
    const end = writeStoredEntry(buf, at + 12, line.stream, time, line.line, newline)
    putUint32(buf, end, payload)
    this.#pendingBytes += size
    this.#pendingRecords++
    const sequence = ++this.#sequence
    if (this.#pendingBytes >= Math.min(MAX_BATCH_BYTES, this.#segmentBytes())) {
      this.flush()
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      process.nextTick(() => {
        this.#flushScheduled = false
        this.flush()
      })
    }
    return sequence
  }

  flush (): void {
    if (this.#pendingBytes === 0 || this.#batch === undefined) return
    const data = this.#batch.subarray(0, this.#pendingBytes)
    try {
      this.#write(data, this.#sequence - this.#pendingRecords + 1)
    } catch (err) {
      // A full or failing disk must not stop the FIFO from being read (that would block the
      // container): the lines are lost, and said so.
      this.#log.error({ code: 'LOGRELAY_ERR_STORE_IO', err, container: this.id, lines: this.#pendingRecords }, 'local store write failed; lines are missing from docker logs and the sinks')
    }
    this.#pendingBytes = 0
    this.#pendingRecords = 0
    if (this.#batch.length > MAX_BATCH_BYTES * 2) this.#batch = undefined
    this.emit('append')
  }

  // Four segments a container, so dropping the oldest keeps at least three quarters of the cap.
  #segmentBytes (): number {
    return Math.max(MIN_SEGMENT_BYTES, Math.floor(this.maxSize / 4))
  }

  #write (data: Buffer, firstSequence: number): void {
    let last = this.#segments.at(-1)
    if (last === undefined || (last.size > 0 && last.size + data.length > this.#segmentBytes())) {
      this.#closeFd()
      last = { number: firstSequence, size: 0 }
      this.#segments.push(last)
      this.trim()
    }
    if (this.#fd === undefined) {
      this.#fd = fs.openSync(this.segmentPath(last.number), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600)
    }
    let written = 0
    while (written < data.length) written += fs.writeSync(this.#fd, data, written)
    last.size += data.length
  }

  // Oldest segments go once the ring holds more than maxSize, but only those whose records are
  // all delivered; the newest is always kept.
  trim (): void {
    let total = this.#segments.reduce((sum, s) => sum + s.size, 0)
    while (this.#segments.length > 1 && total > this.maxSize - this.#segmentBytes()) {
      const oldest = this.#segments[0] as Segment
      const next = this.#segments[1] as Segment
      if (next.number > this.#keepFrom) break
      this.#segments.shift()
      total -= oldest.size
      fs.rmSync(this.segmentPath(oldest.number), { force: true })
    }
  }

  #closeFd (): void {
    if (this.#fd === undefined) return
    fs.closeSync(this.#fd)
    this.#fd = undefined
  }

  close (): void {
    this.flush()
    this.#closeFd()
  }
}
