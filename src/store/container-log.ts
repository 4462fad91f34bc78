import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import type { LogLine } from '../record.js'
import { storedEntryLength, writeStoredEntry } from './stored-entry.js'

// The local store behind `docker logs`: per container, a ring of segment files on disk, so
// memory stays flat however much is logged. Each record is
//   [u32 payload length][i64 time_nano][payload][u32 payload length]
// where payload is the LogEntry ReadLogs sends back (the line with its '\n' when complete), so
// a read copies bytes out without re-encoding, filters by time without decoding, and the
// trailing length lets --tail walk backwards from the end like the daemon's `local` driver.

export const RECORD_OVERHEAD = 16
const SEGMENT_SUFFIX = '.seg'
// A batch is written at the latest once it holds this much, which bounds memory and keeps
// each segment within its share of the container's cap.
const MAX_BATCH_BYTES = 64 * 1024
const MIN_SEGMENT_BYTES = 16 * 1024

export interface Segment {
  readonly number: number
  size: number
}

function segmentName (n: number): string {
  return `${String(n).padStart(12, '0')}${SEGMENT_SUFFIX}`
}

export interface ContainerLogEvents {
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
  #flushScheduled = false
  #active = 0
  #sequence = 0
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
  // with one write(2). Returns the line's sequence, which orders records of one container that
  // share a timestamp (event.sequence in the JSON).
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
    if (this.#pendingBytes >= Math.min(MAX_BATCH_BYTES, this.#segmentBytes())) {
      this.flush()
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      process.nextTick(() => {
        this.#flushScheduled = false
        this.flush()
      })
    }
    return ++this.#sequence
  }

  flush (): void {
    if (this.#pendingBytes === 0 || this.#batch === undefined) return
    const data = this.#batch.subarray(0, this.#pendingBytes)
    try {
      this.#write(data)
    } catch (err) {
      // A full or failing disk must not stop the FIFO from being read (that would block the
      // container); the lines still reach the sinks.
      this.#log.error({ code: 'LOGRELAY_ERR_STORE_IO', err, container: this.id }, 'local store write failed; lines are missing from docker logs')
    }
    this.#pendingBytes = 0
    if (this.#batch.length > MAX_BATCH_BYTES * 2) this.#batch = undefined
    this.emit('append')
  }

  // Four segments a container, so dropping the oldest keeps at least three quarters of the cap.
  #segmentBytes (): number {
    return Math.max(MIN_SEGMENT_BYTES, Math.floor(this.maxSize / 4))
  }

  #write (data: Buffer): void {
    let last = this.#segments.at(-1)
    if (last === undefined || (last.size > 0 && last.size + data.length > this.#segmentBytes())) {
      this.#closeFd()
      last = { number: (last?.number ?? 0) + 1, size: 0 }
      this.#segments.push(last)
      this.#trim()
    }
    if (this.#fd === undefined) {
      this.#fd = fs.openSync(this.segmentPath(last.number), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600)
    }
    let written = 0
    while (written < data.length) written += fs.writeSync(this.#fd, data, written)
    last.size += data.length
  }

  // Oldest segments go once the ring holds more than maxSize; the newest is always kept.
  #trim (): void {
    let total = this.#segments.reduce((sum, s) => sum + s.size, 0)
    while (this.#segments.length > 1 && total > this.maxSize - this.#segmentBytes()) {
      const oldest = this.#segments.shift()
      if (oldest === undefined) break
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
